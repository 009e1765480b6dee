import assert from "node:assert/strict";
import {
  DEFAULT_DELIMITERS,
  Hl7ParseError,
  type Hl7ParseErrorCode,
  parseHl7,
  tryParseHl7,
} from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, cr, MDM_T02, ORU_R01, SIU_S12 } from "./fixtures.ts";

const TAIL = "|A|B|C|D|20240101||ADT^A01|ID1|P|2.5";

Deno.test("parse reads the standard delimiters from MSH-1 and MSH-2", () => {
  const m = parseHl7(ADT_A01);
  assert.deepEqual(m.delimiters, DEFAULT_DELIMITERS);
  assert.equal(m.get("MSH-1"), "|");
  assert.equal(m.get("MSH-2"), "^~\\&");
});

Deno.test("parse accepts a non-standard delimiter set and reads fields with it", () => {
  const m = parseHl7(cr("MSH#*@!%#A#B#C#D#2024##ADT*A01#X1#P#2.5", "PID#1##ID1@ID2##DOE*JO%HN"));
  assert.deepEqual(m.delimiters, {
    field: "#",
    component: "*",
    repetition: "@",
    escape: "!",
    subcomponent: "%",
  });
  assert.equal(m.get("MSH-9.2"), "A01");
  assert.equal(m.get("PID-3[2]"), "ID2");
  assert.equal(m.get("PID-5.2.2"), "HN");
});

Deno.test("parse accepts the v2.7 truncation character as a fifth encoding character", () => {
  const m = parseHl7(cr(`MSH|^~\\&#${TAIL}`, "NTE|1||cut here\\P\\ and # literal"));
  assert.equal(m.delimiters.truncation, "#");
  assert.equal(m.get("MSH-2"), "^~\\&#");
  assert.equal(m.get("MSH-9.1"), "ADT");
  assert.equal(m.get("NTE-3"), "cut here# and # literal");
});

Deno.test("parse splits segments on CR, LF and CRLF, also mixed", () => {
  const segs = [`MSH|^~\\&${TAIL}`, "PID|1||42", "PV1|1|I", "ZZ1|x"];
  for (
    const text of [
      segs.join("\r"),
      segs.join("\n"),
      segs.join("\r\n"),
      segs[0] + "\r" + segs[1] + "\n" + segs[2] + "\r\n" + segs[3] + "\r\n",
    ]
  ) {
    const m = parseHl7(text);
    assert.deepEqual(m.segmentNames(), ["MSH", "PID", "PV1", "ZZ1"]);
    assert.equal(m.get("PID-3"), "42");
    assert.equal(m.get("ZZ1-1"), "x");
    assert.equal(m.encode(), text);
  }
});

Deno.test("parse tolerates blank and whitespace-only lines and leading whitespace", () => {
  const text = `\r\n\uFEFFMSH|^~\\&${TAIL}\r\n\r\n   \r\nPID|1||42\r\n\r\n`;
  const m = parseHl7(text);
  assert.deepEqual(m.segmentNames(), ["MSH", "PID"]);
  assert.equal(m.controlId, "ID1");
  assert.equal(m.encode(), text);
});

Deno.test("parse treats Z-segments as ordinary segments", () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.get("ZPI-2.2"), "value");
  assert.equal(m.count("ZPI"), 1);
});

Deno.test("parse never splits or unescapes MSH-2", () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.getRaw("MSH-2"), "^~\\&");
  assert.equal(m.get("MSH-2.1"), "^~\\&");
  assert.equal(m.get("MSH-2.2"), undefined);
  assert.equal(m.get("MSH-2[2]"), undefined);
  assert.equal(m.get("MSH-3"), "EPIC");
});

Deno.test("convenience getters read MSH-9, MSH-10, MSH-12, MSH-15, MSH-16 and MSH-18", () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.messageType, "ADT");
  assert.equal(m.triggerEvent, "A01");
  assert.equal(m.messageStructure, "ADT_A01");
  assert.equal(m.controlId, "MSG00001");
  assert.equal(m.processingId, "P");
  assert.equal(m.version, "2.5.1");
  assert.equal(m.acceptAckType, "AL");
  assert.equal(m.applicationAckType, "NE");
  assert.equal(m.charset, "UNICODE UTF-8");
  const o = parseHl7(ORU_R01);
  assert.equal(o.charset, undefined);
});

Deno.test("parse reads real-looking SIU and MDM messages", () => {
  const s = parseHl7(SIU_S12);
  assert.equal(s.get("SCH-11.4"), "20240305100000");
  assert.equal(s.get("AIP-3.2"), "DOC");
  const d = parseHl7(MDM_T02);
  assert.deepEqual(d.getRepetitions("OBX-5"), [
    "Patient doing well.",
    "Follow up in 2 weeks & call.",
    "",
    "End.",
  ]);
});

function code(text: string, options = {}): Hl7ParseErrorCode | "OK" {
  const r = tryParseHl7(text, options);
  return r.ok ? "OK" : r.error.code;
}

Deno.test("malformed input: empty or whitespace-only text is EMPTY", () => {
  assert.equal(code(""), "EMPTY");
  assert.equal(code(" \r\n\t"), "EMPTY");
  assert.equal(code(undefined as unknown as string), "EMPTY");
  assert.equal(code(42 as unknown as string), "EMPTY");
});

Deno.test("malformed input: text not starting with MSH is NO_MSH", () => {
  assert.equal(code("PID|1||42\rMSH|^~\\&|A"), "NO_MSH");
  assert.equal(code("hello world"), "NO_MSH");
  const r = tryParseHl7("FHS|^~\\&|A\rBHS|^~\\&\rMSH|^~\\&" + TAIL);
  assert.ok(!r.ok && r.error.code === "NO_MSH" && r.error.message.includes("splitBatch"));
});

Deno.test("malformed input: MSH cut before its delimiters is MSH_TOO_SHORT", () => {
  assert.equal(code("MSH"), "MSH_TOO_SHORT");
  assert.equal(code("MSH\rPID|1"), "MSH_TOO_SHORT");
  assert.equal(code("MSH|^~"), "MSH_TOO_SHORT");
  assert.equal(code("MSH|^~\rPID|1"), "MSH_TOO_SHORT");
});

Deno.test("malformed input: bad delimiter sets are BAD_DELIMITERS", () => {
  assert.equal(code(`MSH|^~${TAIL}`), "BAD_DELIMITERS"); // only 2 encoding characters
  assert.equal(code(`MSH|^~\\&#$${TAIL}`), "BAD_DELIMITERS"); // 6 encoding characters
  assert.equal(code(`MSH|^~A&${TAIL}`), "BAD_DELIMITERS"); // letter
  assert.equal(code(`MSH|^~1&${TAIL}`), "BAD_DELIMITERS"); // digit
  assert.equal(code(`MSH|^~ &${TAIL}`), "BAD_DELIMITERS"); // space
  assert.equal(code(`MSHA^~\\&A${TAIL.replaceAll("|", "A")}`), "BAD_DELIMITERS");
});

Deno.test("malformed input: a character used twice is DUPLICATE_DELIMITER", () => {
  assert.equal(code(`MSH|^^\\&${TAIL}`), "DUPLICATE_DELIMITER");
  assert.equal(code(`MSH|^~\\^${TAIL}`), "DUPLICATE_DELIMITER");
  assert.equal(code(`MSH|^~\\&&${TAIL}`), "DUPLICATE_DELIMITER");
  assert.equal(code(`MSH|^~\\~#${TAIL}`), "DUPLICATE_DELIMITER");
});

Deno.test("malformed input: control characters as delimiters are NON_PRINTABLE_DELIMITER", () => {
  assert.equal(code(`MSH\t^~\\&${TAIL.replaceAll("|", "\t")}`), "NON_PRINTABLE_DELIMITER");
  assert.equal(code(`MSH|^\u0001\\&${TAIL}`), "NON_PRINTABLE_DELIMITER");
  assert.equal(code(`MSH|^~\\\u007f${TAIL}`), "NON_PRINTABLE_DELIMITER");
});

Deno.test("malformed input: MSH without MSH-9..MSH-12 is TRUNCATED unless allowed", () => {
  assert.equal(code("MSH|^~\\&|A|B|C|D|2024||ADT^A01|X"), "TRUNCATED");
  assert.equal(code("MSH|^~\\&"), "TRUNCATED");
  assert.equal(code("MSH|^~\\&|A|B\rPID|1"), "TRUNCATED");
  assert.equal(code("MSH|^~\\&|A|B|C|D|2024||ADT^A01|X|P|2.5"), "OK");
  assert.equal(code("MSH|^~\\&|A|B", { minMshFields: 4 }), "OK");
});

Deno.test("malformed input: invalid segment IDs are INVALID_SEGMENT_NAME with location", () => {
  const text = `MSH|^~\\&${TAIL}\rPID|1\rpv1|1\rOBX|1`;
  const r = tryParseHl7(text);
  assert.ok(!r.ok);
  assert.equal(r.error.code, "INVALID_SEGMENT_NAME");
  assert.equal(r.error.segmentIndex, 2);
  assert.equal(r.error.line, 3);
  assert.equal(r.error.offset, text.indexOf("pv1"));
  assert.match(r.error.message, /segment 3, line 3, offset \d+/);
  assert.equal(code(`MSH|^~\\&${TAIL}\rPI|1`), "INVALID_SEGMENT_NAME");
  assert.equal(code(`MSH|^~\\&${TAIL}\rPIDX|1`), "INVALID_SEGMENT_NAME");
  assert.equal(code(`MSH|^~\\&${TAIL}\r1ID|1`), "INVALID_SEGMENT_NAME");
  assert.equal(code(`MSH|^~\\&${TAIL}\r\u001c\r`), "INVALID_SEGMENT_NAME");
});

Deno.test("malformed input: line numbers count blank lines and CRLF as one line end", () => {
  const r = tryParseHl7(`MSH|^~\\&${TAIL}\r\n\r\nPID|1\r\nbad|1`);
  assert.ok(!r.ok);
  assert.equal(r.error.line, 4);
  assert.equal(r.error.segmentIndex, 2);
});

Deno.test("malformed input: a second MSH or an envelope segment is UNEXPECTED_SEGMENT", () => {
  const two = `MSH|^~\\&${TAIL}\rPID|1\rMSH|^~\\&${TAIL}\rPID|2`;
  const r = tryParseHl7(two);
  assert.ok(!r.ok && r.error.code === "UNEXPECTED_SEGMENT" && r.error.segmentIndex === 2);
  assert.equal(code(`MSH|^~\\&${TAIL}\rPID|1\rBTS|1`), "UNEXPECTED_SEGMENT");
});

Deno.test("parseHl7 throws Hl7ParseError (never a TypeError) for every malformed case", () => {
  for (const bad of ["", "MSH", "MSH|", "MSH|^", "MSH|^~\\", "MSH||||", "\u0000", "MSH\u0000"]) {
    assert.throws(() => parseHl7(bad), (e) => e instanceof Hl7ParseError);
  }
});

Deno.test("tryParseHl7 returns ok with the message for valid input", () => {
  const r = tryParseHl7(ORU_R01);
  assert.ok(r.ok);
  assert.equal(r.message.count("OBX"), 3);
});

Deno.test("parse reads a *@!$% delimiter set and decodes $-escapes with it", () => {
  const m = parseHl7(
    cr("MSH*@!$%*A*B*C*D*2024**ADT@A01*X1*P*2.5", "PID*1**a@b!c%d$F$e$X41$**x|y^z\\w"),
  );
  assert.deepEqual(m.delimiters, {
    field: "*",
    component: "@",
    repetition: "!",
    escape: "$",
    subcomponent: "%",
  });
  assert.equal(m.get("PID-3"), "a@b"); // first repetition
  assert.equal(m.get("PID-3[2].1.2"), "d*eA"); // $F$ is "*", $X41$ is "A"
  assert.equal(m.get("PID-5"), "x|y^z\\w"); // the usual delimiters are plain text here
  m.set("PID-5", "p*q@r");
  assert.equal(m.getRaw("PID-5"), "p$F$q$S$r");
});

Deno.test("parse accepts a segment made of its name only; its fields read as absent", () => {
  const text = cr(`MSH|^~\\&${TAIL}`, "PID", "ZZ1|x");
  const m = parseHl7(text);
  assert.deepEqual(m.segmentNames(), ["MSH", "PID", "ZZ1"]);
  assert.equal(m.get("PID"), "PID");
  assert.equal(m.get("PID-1"), undefined);
  assert.equal(m.encode(), text);
  m.set("PID-2", "v");
  assert.equal(m.encode(), cr(`MSH|^~\\&${TAIL}`, "PID||v", "ZZ1|x"));
});

Deno.test("trailing empty fields are kept on re-encode and read as empty, not absent", () => {
  const text = cr(`MSH|^~\\&${TAIL}||`, "PID|1|||", "PV1|1^^");
  const m = parseHl7(text);
  assert.equal(m.get("PID-4"), "");
  assert.equal(m.get("PID-5"), undefined);
  assert.equal(m.get("MSH-14"), "");
  assert.equal(m.get("PV1-1.3"), "");
  assert.equal(m.get("PV1-1.4"), undefined);
  m.set("PV1-2", "I"); // an edit elsewhere keeps the other segments' trailing separators
  assert.equal(m.encode(), cr(`MSH|^~\\&${TAIL}||`, "PID|1|||", "PV1|1^^|I"));
});

Deno.test("malformed input: MSH-2 cut short says MSH_TOO_SHORT at the offset where it stops", () => {
  for (const [text, offset] of [["MSH|", 4], ["MSH|^~\\", 7], ["  MSH|^\r\nPID|1", 7]] as const) {
    const r = tryParseHl7(text);
    assert.ok(!r.ok, text);
    assert.equal(r.error.code, "MSH_TOO_SHORT", text);
    assert.equal(r.error.offset, offset, text);
    assert.equal(r.error.line, 1, text);
    assert.match(r.error.message, /MSH-2/);
  }
});
