/**
 * Control characters in values: HL7 text cannot carry C0 controls raw (CR and LF end a segment,
 * VT and FS are MLLP's framing bytes), so `escapeHl7` writes them as `\Xhh\` and `unescapeHl7`
 * reads them back.
 */

import assert from "node:assert/strict";
import {
  DEFAULT_DELIMITERS as D,
  escapeHl7,
  type Hl7Delimiters,
  parseHl7,
  unescapeHl7,
} from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp } from "../../../codecs/mllp/mod.ts";

/** Every C0 control but TAB, which HL7 text may hold as it is. */
const CONTROLS = Array.from({ length: 0x20 }, (_, c) => c).filter((c) => c !== 0x09);

const hex = (c: number) => c.toString(16).toUpperCase().padStart(2, "0");

Deno.test("escape writes MLLP's framing bytes VT and FS as \\X0B\\ and \\X1C\\", () => {
  assert.equal(escapeHl7("A\u000bB", D), "A\\X0B\\B");
  assert.equal(escapeHl7("DOE\u001cX", D), "DOE\\X1C\\X");
  assert.equal(escapeHl7("\u000b\u001c", D), "\\X0B\\\\X1C\\");
});

Deno.test("escape writes every C0 control but TAB as an upper-case \\Xhh\\, TAB raw", () => {
  for (const c of CONTROLS) {
    const ch = String.fromCharCode(c);
    assert.equal(escapeHl7(`a${ch}b`, D), `a\\X${hex(c)}\\b`, `0x${hex(c)}`);
  }
  assert.equal(escapeHl7("a\tb", D), "a\tb");
  // With delimiters and the escape character around them, each is escaped as before.
  assert.equal(escapeHl7("x|\u0001^\\y\u001f", D), "x\\F\\\\X01\\\\S\\\\E\\y\\X1F\\");
});

Deno.test("escape uses the message's own escape character for control hex escapes", () => {
  const own: Hl7Delimiters = { ...D, escape: "#" };
  assert.equal(escapeHl7("A\u000bB\u001cC", own), "A#X0B#B#X1C#C");
  assert.equal(unescapeHl7("A#X0B#B#X1C#C", own), "A\u000bB\u001cC");
});

Deno.test("unescape reads \\X0B\\, \\X1C\\ and the other control escapes back as the characters", () => {
  assert.equal(unescapeHl7("A\\X0B\\B", D), "A\u000bB");
  assert.equal(unescapeHl7("DOE\\X1C\\X", D), "DOE\u001cX");
  for (const c of [...CONTROLS, 0x09]) {
    const s = `p${String.fromCharCode(c)}q|r${String.fromCharCode(c)}`;
    assert.equal(unescapeHl7(escapeHl7(s, D), D), s, `0x${hex(c)}`);
  }
});

Deno.test("a message whose values were set with controls can be framed for MLLP and reads back", () => {
  const m = parseHl7("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5.1\rPID|1||1||DOE^JANE");
  m.set("PID-5.1", "DO\u001cE");
  m.set("PID-5.2", "JA\u000bNE");
  const text = m.encode();
  assert.match(text, /PID\|1\|\|1\|\|DO\\X1C\\E\^JA\\X0B\\NE/);
  // encodeMllp refuses a payload holding 0x0B or 0x1C: this one has neither.
  const framed = encodeMllp(text);
  assert.equal(framed.subarray(1, -2).indexOf(0x0b), -1);
  assert.equal(framed.subarray(1, -2).indexOf(0x1c), -1);
  const back = parseHl7(text);
  assert.equal(back.get("PID-5.1"), "DO\u001cE");
  assert.equal(back.get("PID-5.2"), "JA\u000bNE");
});
