import assert from "node:assert/strict";
import {
  formatHl7Path,
  HL7_NULL,
  Hl7PathError,
  parseHl7,
  parseHl7Path,
} from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, cr, ORU_R01 } from "./fixtures.ts";

Deno.test("parseHl7Path reads every level and defaults repetitions to 1", () => {
  assert.deepEqual(
    { ...parseHl7Path("OBX[3]-5[2].1.4") },
    {
      text: "OBX[3]-5[2].1.4",
      segment: "OBX",
      segmentRep: 3,
      segmentRepGiven: true,
      field: 5,
      fieldRep: 2,
      fieldRepGiven: true,
      component: 1,
      subcomponent: 4,
    },
  );
  const p = parseHl7Path("PID-3");
  assert.equal(p.segmentRep, 1);
  assert.equal(p.fieldRep, 1);
  assert.equal(p.component, undefined);
  const s = parseHl7Path("ZP1");
  assert.equal(s.field, undefined);
});

Deno.test("formatHl7Path writes a parsed path back", () => {
  for (const t of ["PID", "OBX[2]", "PID-3", "PID-3[2].1", "MSH-9.1", "PID-5.1.2", "OBX[3]-5"]) {
    assert.equal(formatHl7Path(parseHl7Path(t)), t);
  }
});

Deno.test("invalid paths throw Hl7PathError BAD_PATH naming the path", () => {
  for (
    const bad of [
      "",
      "pid-3",
      "PI-3",
      "PID3",
      "PID-",
      "PID-0",
      "PID-3.",
      "PID-3.1.2.3",
      "PID-3[0]",
      "PID[0]-3",
      "PID-3[",
      "PID-3[2",
      "PID-x",
      "PID.3",
      "PID-3 ",
      "PID-123456",
      "PID-3[-1]",
    ]
  ) {
    assert.throws(
      () => parseHl7Path(bad),
      (e) =>
        e instanceof Hl7PathError && e.code === "BAD_PATH" && e.path === bad &&
        e.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
  const m = parseHl7(ADT_A01);
  assert.throws(() => m.get("PID.3"), Hl7PathError);
});

Deno.test("get reads fields, repetitions, components and subcomponents", () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.get("MSH-9"), "ADT^A01^ADT_A01");
  assert.equal(m.get("MSH-9.1"), "ADT");
  assert.equal(m.get("MSH-4.2.1"), "1.2.3");
  assert.equal(m.get("MSH-4.2.2"), "ISO");
  assert.equal(m.get("PID-3"), "123456^^^HOSP^MR");
  assert.equal(m.get("PID-3[1]"), "123456^^^HOSP^MR");
  assert.equal(m.get("PID-3[2].1"), "987654321");
  assert.equal(m.get("PID-5.1"), "O'BRIEN");
  assert.equal(m.get("PID-5[2].1.2"), "VAN");
  assert.equal(m.get("PID-5[2].1.1"), "SMITH");
  assert.equal(m.get("PID-5.1.1"), "O'BRIEN"); // no subcomponents: the first is the whole
  const o = parseHl7(ORU_R01);
  assert.equal(o.get("OBX[3]-5"), "^AP^PDF^Base64^SGVsbG8=");
  assert.equal(o.get("OBX[3]-5.5"), "SGVsbG8=");
  assert.equal(o.get("OBX[2]-3.2"), "Glucose");
});

Deno.test('get returns undefined for absent parts and "" for empty ones', () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.get("PID-2"), "");
  assert.equal(m.get("PID-3.2"), "");
  assert.equal(m.get("PID-3.6"), undefined);
  assert.equal(m.get("PID-3[3]"), undefined);
  assert.equal(m.get("PID-5.1.3"), undefined);
  assert.equal(m.get("PID-99"), undefined);
  assert.equal(m.get("PID[2]-1"), undefined);
  assert.equal(m.get("OBX-5"), undefined);
  assert.equal(m.get("MSH-1.2"), undefined);
});

Deno.test('get keeps an empty field distinct from a null "" field', () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.get("PID-15"), HL7_NULL);
  assert.equal(m.isNull("PID-15"), true);
  assert.equal(m.get("PID-14"), "");
  assert.equal(m.isNull("PID-14"), false);
  assert.equal(m.isNull("PID-99"), false);
  const n = parseHl7(cr("MSH|^~\\&|A|B|C|D|1||ADT^A08|1|P|2.5", 'PID|1||^""^x'));
  assert.equal(n.get("PID-3.2"), HL7_NULL);
  assert.equal(n.get("PID-3.1"), "");
});

Deno.test("getRaw returns encoded text; segment-only paths return the segment", () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.getRaw("PV2-3"), "^Chest pain \\T\\ shortness of breath");
  assert.equal(
    m.get("PV1"),
    "PV1|1|I|4WEST^412^B^HOSP||||1234^ATTEND^ALICE^^^DR|||MED||||ADM|A0|||||VIS1",
  );
  assert.equal(m.getRaw("ZPI[1]"), "ZPI|1|custom^value|\\H\\bold\\N\\ text");
  assert.equal(m.getRaw("ZPI[2]"), undefined);
});

Deno.test("getAll reads the field from every occurrence, aligned with the segments", () => {
  const o = parseHl7(ORU_R01);
  assert.deepEqual(o.getAll("OBX-5"), ["13.5", "High H value", "^AP^PDF^Base64^SGVsbG8="]);
  assert.deepEqual(o.getAll("OBX-5", { raw: true })[1], "High \\X48\\ value");
  assert.deepEqual(o.getAll("OBX-3.1"), ["718-7", "GLU", "PDF"]);
  assert.deepEqual(o.getAll("OBX-12"), [undefined, undefined, undefined]);
  assert.deepEqual(o.getAll("ZZZ-1"), []);
  assert.throws(() => o.getAll("OBX[2]-5"), Hl7PathError);
});

Deno.test("getRepetitions lists every repetition of a field or of one of its components", () => {
  const m = parseHl7(ADT_A01);
  assert.deepEqual(m.getRepetitions("PID-3.1"), ["123456", "987654321"]);
  assert.deepEqual(m.getRepetitions("PID-3.4"), ["HOSP", "SSA"]);
  assert.deepEqual(m.getRepetitions("PID-2"), []);
  assert.deepEqual(m.getRepetitions("PID-99"), []);
  assert.deepEqual(m.getRepetitions("MSH-2"), ["^~\\&"]);
  assert.throws(() => m.getRepetitions("PID-3[1]"), Hl7PathError);
});

Deno.test("repeated reads of one segment give the same values as the first (cache path)", () => {
  const m = parseHl7(ADT_A01);
  const paths = ["PID-1", "PID-3[2].4", "PID-5.2", "PID-7", "PID-8", "PID-11.2", "PID-20"];
  const first = paths.map((p) => m.get(p));
  for (let k = 0; k < 4; k++) assert.deepEqual(paths.map((p) => m.get(p)), first);
});

Deno.test("the MSH field numbering counts MSH-1 as the field separator", () => {
  const m = parseHl7(ADT_A01);
  assert.equal(m.get("MSH-3"), "EPIC");
  assert.equal(m.get("MSH-7"), "20240102030405+0100");
  assert.equal(m.get("MSH-10"), "MSG00001");
});

Deno.test("a path that is not a string is BAD_PATH saying so, not a TypeError", () => {
  for (const bad of [undefined, null, 3, {}]) {
    assert.throws(
      () => parseHl7Path(bad as unknown as string),
      (e) =>
        e instanceof Hl7PathError && e.code === "BAD_PATH" &&
        e.message.includes("must be a string"),
      String(bad),
    );
  }
  assert.throws(() => parseHl7(ADT_A01).get(7 as unknown as string), Hl7PathError);
});

Deno.test("reads past the last segment, field or repetition are undefined in every reader", () => {
  const o = parseHl7(ORU_R01);
  assert.equal(o.get("OBX[50]-5"), undefined);
  assert.equal(o.getRaw("OBX[4]"), undefined);
  assert.equal(o.isNull("OBX[50]-5"), false);
  assert.deepEqual(o.getRepetitions("OBX[50]-5"), []);
  assert.equal(o.get("OBX[3]-99999"), undefined);
  assert.equal(o.get("OBX[3]-5[99]"), undefined);
  assert.equal(o.get("OBX[3]-5.99.1"), undefined);
});
