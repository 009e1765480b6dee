import assert from "node:assert/strict";
import {
  HL7_NULL,
  Hl7PathError,
  Hl7ValueError,
  parseHl7,
  tryParseHl7,
} from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, cr, ORU_R01, SAMPLES } from "./fixtures.ts";

const HEAD = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5";

Deno.test("an unmodified message re-encodes byte for byte (ADT, ORU, SIU, MDM)", () => {
  for (const [name, text] of Object.entries(SAMPLES)) {
    for (const sep of ["\r", "\n", "\r\n"]) {
      const t = text.replaceAll("\r", sep) + sep;
      const m = parseHl7(t);
      m.get("PID-3"); // reads must not change the encoding
      assert.equal(m.encode(), t, `${name} ${JSON.stringify(sep)}`);
      assert.equal(m.toString(), t);
    }
  }
});

Deno.test("after an edit every segment keeps its own original separator", () => {
  const text = `${HEAD}\rPID|1||42\nPV1|1|I\r\n\r\nZZ1|x\r\n`;
  const m = parseHl7(text);
  m.set("PID-3", "43");
  assert.equal(m.encode(), `${HEAD}\rPID|1||43\nPV1|1|I\r\n\r\nZZ1|x\r\n`);
});

Deno.test("set escapes delimiters so the value reads back unchanged", () => {
  const m = parseHl7(ADT_A01);
  m.set("PID-5.1", "O'BRIEN | SMITH ^ & ~ \\ done");
  assert.equal(m.getRaw("PID-5.1"), "O'BRIEN \\F\\ SMITH \\S\\ \\T\\ \\R\\ \\E\\ done");
  assert.equal(m.get("PID-5.1"), "O'BRIEN | SMITH ^ & ~ \\ done");
  assert.equal(m.get("PID-5.2"), "JOHN");
  const again = parseHl7(m.encode());
  assert.equal(again.get("PID-5.1"), "O'BRIEN | SMITH ^ & ~ \\ done");
});

Deno.test("set escapes CR and LF so a value can never end a segment", () => {
  const m = parseHl7(ORU_R01);
  m.set("NTE-3", "line1\r\nline2");
  const again = parseHl7(m.encode());
  assert.equal(again.segmentCount, m.segmentCount);
  assert.equal(again.get("NTE-3"), "line1\r\nline2");
});

Deno.test("set at a field path replaces the first repetition only", () => {
  const m = parseHl7(ADT_A01);
  m.set("PID-3", "X");
  assert.equal(m.getRaw("PID-3[1]"), "X");
  assert.equal(m.get("PID-3[2].1"), "987654321");
});

Deno.test("set adds missing fields, repetitions, components and subcomponents", () => {
  const m = parseHl7(cr(HEAD, "PID|1"));
  m.set("PID-5[2].3.2", "v");
  assert.equal(m.getRaw("PID"), "PID|1||||~^^&v");
  assert.equal(m.get("PID-5[2].3.2"), "v");
  m.set("PID-3.4", "HOSP");
  assert.equal(m.getRaw("PID-3"), "^^^HOSP");
});

Deno.test("set creates the next occurrence of a segment after the last of its kind", () => {
  const m = parseHl7(ORU_R01);
  m.set("OBX[4]-5", "new");
  assert.deepEqual(m.segmentNames(), ["MSH", "PID", "OBR", "OBX", "OBX", "OBX", "OBX", "NTE"]);
  assert.equal(m.getRaw("OBX[4]"), "OBX|||||new");
  m.set("ZZ9-2", "end");
  assert.equal(m.segmentNames().at(-1), "ZZ9");
  assert.match(m.encode(), /\rZZ9\|\|end$/);
  assert.throws(
    () => m.set("OBX[9]-1", "x"),
    (e) => e instanceof Hl7PathError && e.code === "NO_SUCH_SEGMENT",
  );
});

Deno.test('set with HL7_NULL writes an HL7 null; set with "" empties', () => {
  const m = parseHl7(ADT_A01);
  m.set("PID-8", HL7_NULL);
  assert.equal(m.getRaw("PID-8"), '""');
  assert.ok(m.isNull("PID-8"));
  m.set("PID-15", "");
  assert.equal(m.get("PID-15"), "");
  assert.ok(!m.isNull("PID-15"));
});

Deno.test("set refuses MSH-1 and MSH-2 and non-field paths", () => {
  const m = parseHl7(ADT_A01);
  for (const p of ["MSH-1", "MSH-2", "MSH-2.1"]) {
    assert.throws(() => m.set(p, "x"), (e) => e instanceof Hl7PathError && e.code === "READ_ONLY");
  }
  assert.throws(() => m.set("PID", "x"), (e) => e instanceof Hl7PathError && e.code === "BAD_PATH");
  assert.throws(() => m.set("PID-3", 5 as unknown as string), Hl7ValueError);
});

Deno.test("set in MSH uses MSH numbering", () => {
  const m = parseHl7(ADT_A01);
  m.set("MSH-10", "NEWID").set("MSH-9.2", "A08");
  assert.equal(m.controlId, "NEWID");
  assert.equal(m.triggerEvent, "A08");
  assert.ok(m.encode().startsWith("MSH|^~\\&|EPIC|HOSP^1.2.3&ISO|ENGINE|CLINIC|"));
  assert.equal(parseHl7(m.encode()).get("MSH-10"), "NEWID");
});

Deno.test("setRaw writes encoded text and rejects higher-level delimiters", () => {
  const m = parseHl7(ADT_A01);
  m.setRaw("PID-5", "DOE^JANE&X");
  assert.equal(m.get("PID-5.2.2"), "X");
  m.setRaw("PID-11.2", "A \\F\\ B");
  assert.equal(m.get("PID-11.2"), "A | B");
  assert.throws(() => m.setRaw("PID-5", "A|B"), Hl7ValueError);
  assert.throws(() => m.setRaw("PID-5", "A~B"), Hl7ValueError);
  assert.throws(() => m.setRaw("PID-5.1", "A^B"), Hl7ValueError);
  assert.throws(() => m.setRaw("PID-5.1.1", "A&B"), Hl7ValueError);
  assert.throws(() => m.setRaw("PID-5", "A\rB"), Hl7ValueError);
});

Deno.test("setRaw on a segment path replaces the whole segment", () => {
  const m = parseHl7(ADT_A01);
  m.setRaw("ZPI", "ZPI|9|x");
  assert.equal(m.get("ZPI-1"), "9");
  assert.throws(() => m.setRaw("ZPI", "ZPX|9"), Hl7ValueError);
  assert.throws(() => m.setRaw("ZZZ", "ZZZ|9"), Hl7PathError);
});

Deno.test("setRepetitions replaces a whole repeating field", () => {
  const m = parseHl7(ADT_A01);
  m.setRepetitions("PID-3", ["A~1", "B^2"]);
  assert.equal(m.getRaw("PID-3[1]"), "A\\R\\1");
  assert.deepEqual(m.getRepetitions("PID-3"), ["A~1", "B^2"]);
  m.setRepetitions("PID-3", ["X^^^H", "Y^^^H"], { raw: true });
  assert.deepEqual(m.getRepetitions("PID-3.1"), ["X", "Y"]);
  m.setRepetitions("PID-3", []);
  assert.equal(m.get("PID-3"), "");
});

Deno.test("appendSegment, insertSegmentBefore and removeSegment keep separators right", () => {
  const m = parseHl7(`${HEAD}\r\nPID|1\r\n`);
  m.appendSegment("ZZ1|a");
  assert.equal(m.encode(), `${HEAD}\r\nPID|1\r\nZZ1|a\r\n`);
  m.insertSegmentBefore("ZZ1", "PV1|1");
  assert.deepEqual(m.segmentNames(), ["MSH", "PID", "PV1", "ZZ1"]);
  assert.equal(m.removeSegment("ZZ1"), true);
  assert.equal(m.encode(), `${HEAD}\r\nPID|1\r\nPV1|1\r\n`);
  assert.equal(m.removeSegment("ZZ1"), false);
  const n = parseHl7(`${HEAD}\rPID|1`);
  n.appendSegment("ZZ1|a");
  assert.equal(n.encode(), `${HEAD}\rPID|1\rZZ1|a`);
});

Deno.test("appendSegment rejects bad segments, MSH and envelope segments", () => {
  const m = parseHl7(ADT_A01);
  for (const bad of ["zz1|a", "ZZ|a", "ZZ1a", "ZZ1|a\rPID|1", "MSH|^~\\&", "BHS|x"]) {
    assert.throws(() => m.appendSegment(bad), Hl7ValueError, bad);
  }
  assert.throws(() => m.removeSegment("MSH"), Hl7PathError);
  assert.throws(() => m.insertSegmentBefore("MSH", "ZZ1|a"), Hl7PathError);
});

Deno.test("clone gives an independent copy", () => {
  const m = parseHl7(ADT_A01);
  m.set("PID-8", "F");
  const c = m.clone();
  c.set("PID-8", "M");
  c.set("PID-7", "2000");
  assert.equal(m.get("PID-8"), "F");
  assert.equal(m.get("PID-7"), "19700101");
  assert.equal(c.get("PID-8"), "M");
  const u = parseHl7(ORU_R01).clone();
  assert.equal(u.encode(), ORU_R01);
});

Deno.test("an edited message is still a valid message", () => {
  const m = parseHl7(ADT_A01);
  m.set("PID-5.1", "NEW|NAME").set("ZPI-4[3].2.2", "x^y").appendSegment("ZZ2|1");
  const r = tryParseHl7(m.encode());
  assert.ok(r.ok);
  assert.equal(r.message.get("PID-5.1"), "NEW|NAME");
  assert.equal(r.message.get("ZPI-4[3].2.2"), "x^y");
});
