import assert from "node:assert/strict";
import {
  DEFAULT_DELIMITERS as D,
  escapeHl7,
  type Hl7Delimiters,
  parseHl7,
  unescapeHl7,
} from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, ORU_R01 } from "./fixtures.ts";

const D27: Hl7Delimiters = { ...D, truncation: "#" };

Deno.test("unescape decodes \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ to the delimiters", () => {
  assert.equal(unescapeHl7("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", D), "a|b^c&d~e\\f");
});

Deno.test("unescape decodes \\P\\ only when a truncation character is declared", () => {
  assert.equal(unescapeHl7("x\\P\\y", D27), "x#y");
  assert.equal(unescapeHl7("x\\P\\y", D), "x\\P\\y");
});

Deno.test("unescape decodes \\Xhh\\ hex as UTF-8 when valid, else Latin-1", () => {
  assert.equal(unescapeHl7("\\X41\\\\X0D0A\\", D), "A\r\n");
  assert.equal(unescapeHl7("caf\\XC3A9\\", D), "café");
  assert.equal(unescapeHl7("caf\\XE9\\", D), "café");
  assert.equal(unescapeHl7("\\xe9\\", D), "\\xe9\\"); // lower-case x is not the hex escape
  assert.equal(unescapeHl7("\\X4\\", D), "\\X4\\"); // odd digit count: kept
  assert.equal(unescapeHl7("\\XZZ\\", D), "\\XZZ\\"); // not hex: kept
});

Deno.test("unescape keeps formatting and charset sequences verbatim", () => {
  for (
    const seq of [
      "\\H\\",
      "\\N\\",
      "\\.br\\",
      "\\.sp\\",
      "\\.sp2\\",
      "\\.in+4\\",
      "\\.ti-2\\",
      "\\.sk3\\",
      "\\.fi\\",
      "\\.nf\\",
      "\\.ce\\",
      "\\C2842\\",
      "\\M2442\\",
      "\\M244221\\",
      "\\Zabc1\\",
    ]
  ) {
    assert.equal(unescapeHl7(`a${seq}b`, D), `a${seq}b`, seq);
  }
});

Deno.test("unescape keeps a stray escape character as a literal", () => {
  assert.equal(unescapeHl7("C:\\temp\\x", D), "C:\\temp\\x");
  assert.equal(unescapeHl7("trailing\\", D), "trailing\\");
  assert.equal(unescapeHl7("a\\b\\F\\c", D), "a\\b|c");
});

Deno.test("unescape returns text without escape character unchanged", () => {
  const s = "plain ^ text & more";
  assert.equal(unescapeHl7(s, D), s);
});

Deno.test("escape turns delimiters, escape char and CR/LF into escape sequences", () => {
  assert.equal(escapeHl7("a|b^c&d~e\\f", D), "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f");
  assert.equal(escapeHl7("l1\r\nl2", D), "l1\\X0D\\\\X0A\\l2");
  assert.equal(escapeHl7("x#y", D27), "x\\P\\y");
  assert.equal(escapeHl7("x#y", D), "x#y");
  assert.equal(escapeHl7("plain", D), "plain");
});

Deno.test("escape keeps formatting sequences unless keepFormatting is false", () => {
  assert.equal(escapeHl7("\\H\\bold\\N\\", D), "\\H\\bold\\N\\");
  assert.equal(escapeHl7("a\\.br\\b", D), "a\\.br\\b");
  assert.equal(
    escapeHl7("\\H\\bold", D, { keepFormatting: false }),
    "\\E\\H\\E\\bold",
  );
  assert.equal(escapeHl7("\\X41\\", D), "\\E\\X41\\E\\");
});

Deno.test("escape and unescape use the message's own delimiters", () => {
  const d: Hl7Delimiters = {
    field: "#",
    component: "*",
    repetition: "@",
    escape: "!",
    subcomponent: "%",
  };
  assert.equal(escapeHl7("a#b*c@d!e%f|^~\\&", d), "a!F!b!S!c!R!d!E!e!T!f|^~\\&");
  assert.equal(unescapeHl7("a!F!b!S!c!R!d!E!e!T!f|^~\\&", d), "a#b*c@d!e%f|^~\\&");
});

Deno.test("escape then unescape gives back tricky strings exactly", () => {
  for (
    const s of [
      "\\",
      "\\\\",
      "\\E\\",
      "\\H\\N\\",
      "\\.br\\F\\",
      "\\Zx|y\\",
      "a\\H",
      "\\X0D\\",
      "é€\u{1F600}\r\n",
      '""',
    ]
  ) {
    assert.equal(unescapeHl7(escapeHl7(s, D27), D27), s, JSON.stringify(s));
  }
});

Deno.test("get decodes escapes in real messages, getRaw keeps them", () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.get("PID-11.2"), "APT | 3");
  assert.equal(m.getRaw("PID-11.2"), "APT \\F\\ 3");
  assert.equal(m.get("PV2-3.2"), "Chest pain & shortness of breath");
  assert.equal(m.get("ZPI-3"), "\\H\\bold\\N\\ text");
  const o = parseHl7(ORU_R01);
  assert.equal(o.get("OBX[2]-5"), "High H value");
  assert.equal(o.get("NTE-3"), "Line one\\.br\\Line two \\ done");
});

Deno.test("unescape keeps an unterminated escape sequence (\\F at the end) as literal text", () => {
  assert.equal(unescapeHl7("abc\\F", D), "abc\\F");
  assert.equal(unescapeHl7("\\X41", D), "\\X41");
  assert.equal(unescapeHl7("a\\S\\b\\T", D), "a^b\\T"); // the complete one is still decoded
  const m = parseHl7("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rNTE|1||cut \\F");
  assert.equal(m.get("NTE-3"), "cut \\F");
  m.set("NTE-3", m.get("NTE-3") as string); // written back escaped, reads back the same
  assert.equal(m.getRaw("NTE-3"), "cut \\E\\F");
  assert.equal(parseHl7(m.encode()).get("NTE-3"), "cut \\F");
});
