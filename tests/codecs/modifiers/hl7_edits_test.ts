import assert from "node:assert/strict";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import {
  applyHl7Edits,
  compileHl7Edits,
  formatProblems,
  type Hl7EditList,
  type TranslationSets,
} from "../../../codecs/modifiers/mod.ts";
import { ADT_A01, cr, ORU_R01 } from "../hl7v2/fixtures.ts";
import { set } from "./fixtures.ts";

const SETS: TranslationSets = new Map([
  ["localSex", set("localSex", { "1": "F", "2": "M" }, "fail", { version: 2 })],
  ["labLoinc", set("labLoinc", { GLU: "2345-7", PDF: "11502-2" }, "pass")],
]);

function edits(raw: unknown): Hl7EditList {
  const c = compileHl7Edits(raw, { translationSets: new Set(SETS.keys()) });
  if (!c.ok) throw new Error(JSON.stringify(c.problems));
  return c.list;
}

/** Applies edits; returns the encoded result, the segments and the runs' changed paths. */
function run(raw: unknown, text: string) {
  const msg = parseHl7(text);
  const r = applyHl7Edits(edits(raw), msg, { translationSets: SETS });
  if (!r.ok) throw r.failure;
  assert.equal(msg.encode(), text, "the input message is never changed");
  const out = r.message.encode();
  return { out, segs: out.split("\r"), changed: r.runs.map((x) => x.changed), r };
}

/** The segments of `a` and `b` that differ, by index. */
function differing(a: string, b: string): number[] {
  const x = a.split("\r"), y = b.split("\r");
  const out: number[] = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) out.push(i);
  return out;
}

const LOCAL = cr(
  "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240102030405||ADT^A01|C1|P|2.5.1",
  "PID|1|MRN77|123456^^^OLD^MR~999^^^SSA^SS||DOE^JANE^^^^^L||19800101|1|||1 MAIN ST|||||||ACCT|123-45-6789",
  "NTE|1||first",
  "ZPI|1|vip",
  "NTE|2||second",
);

Deno.test("hl7 set: a value on every repetition with [*], escaped; raw when asked", () => {
  const { segs, changed } = run([
    { op: "set", path: "PID-3[*].4", value: "HOSP" },
    { op: "set", path: "PID-5.1", value: "O|NEIL" },
    { op: "set", path: "PID-5.2", value: "A^B", raw: false },
    { op: "set", path: "PID-11", value: "2 SIDE ST^^CITY", raw: true },
  ], LOCAL);
  assert.equal(
    segs[1],
    "PID|1|MRN77|123456^^^HOSP^MR~999^^^HOSP^SS||O\\F\\NEIL^A\\S\\B^^^^^L||19800101|1|||2 SIDE ST^^CITY|||||||ACCT|123-45-6789",
  );
  assert.deepEqual(changed, [["PID-3[1].4", "PID-3[2].4"], ["PID-5.1"], ["PID-5.2"], ["PID-11"]]);
  assert.deepEqual(differing(LOCAL, segs.join("\r")), [1]);
});

Deno.test("hl7 copy: encoded text from one field to another; absent source skipped or required", () => {
  const { segs, changed } = run([{ op: "copy", from: "PID-2", to: "PID-3[1].1" }], LOCAL);
  assert.match(segs[1] as string, /^PID\|1\|MRN77\|MRN77\^\^\^OLD\^MR~999/);
  assert.deepEqual(changed, [["PID-3[1].1"]]);
  const same = run([{ op: "copy", from: "PID-99", to: "PID-3" }], LOCAL);
  assert.equal(same.out, LOCAL);
  const msg = parseHl7(LOCAL);
  const r = applyHl7Edits(
    edits([{ op: "copy", from: "PV1-19", to: "PID-18", required: true }]),
    msg,
  );
  assert.ok(!r.ok);
  assert.equal(r.failure.message, "edit [0] copy.from at PV1-19: required path PV1-19 is absent");
  // A component copied where only a component fits is refused, naming the place.
  const bad = applyHl7Edits(edits([{ op: "copy", from: "PID-3", to: "PID-5.1" }]), msg);
  assert.ok(!bad.ok);
  assert.match(
    bad.failure.message,
    /edit \[0\] copy at PID-5\.1: cannot write: Raw value for PID-5\.1 must not contain "\^"/,
  );
});

Deno.test("hl7 delete: field, component, repetition, one segment, every segment of some IDs", () => {
  const field = run([{ op: "delete", path: "PID-19" }], LOCAL);
  assert.match(field.segs[1] as string, /\|ACCT\|$/);
  assert.deepEqual(field.changed, [["PID-19"]]);
  const comp = run([{ op: "delete", path: "PID-5.2" }], LOCAL);
  assert.match(comp.segs[1] as string, /\|DOE\^\^\^\^\^\^L\|/);
  const rep = run([{ op: "delete", path: "PID-3[1]" }], LOCAL);
  assert.match(rep.segs[1] as string, /^PID\|1\|MRN77\|999\^\^\^SSA\^SS\|\|/);
  assert.deepEqual(rep.changed, [["PID-3[1]"]]);
  const one = run([{ op: "delete", path: "NTE[2]" }], LOCAL);
  assert.deepEqual(one.segs.map((s) => s.slice(0, 5)), ["MSH|^", "PID|1", "NTE|1", "ZPI|1"]);
  const all = run([{ op: "delete", segments: ["ZPI", "NTE"] }], LOCAL);
  assert.deepEqual(all.segs.map((s) => s.slice(0, 3)), ["MSH", "PID"]);
  assert.deepEqual(all.changed, [["ZPI[1]", "NTE[1]", "NTE[2]"]]);
  // Deleting what is absent changes nothing, byte for byte (no padding fields).
  assert.equal(
    run([{ op: "delete", path: "PID-30" }, { op: "delete", path: "PV1" }], LOCAL).out,
    LOCAL,
  );
});

Deno.test("hl7 translate: a code on a path through a set; onMissing pass, default, fail", () => {
  const sex = run([{ op: "translate", path: "PID-8", set: "localSex" }], LOCAL);
  assert.match(sex.segs[1] as string, /\|19800101\|F\|/);
  assert.deepEqual(sex.r.ok && sex.r.translationSets, [{ name: "localSex", version: 2 }]);
  const lab = run([{ op: "translate", path: "OBX[*]-3.1", set: "labLoinc" }, {
    op: "set",
    path: "OBX[*]-3.3",
    value: "LN",
    // OBX-3.1 reads the OBX being edited, not the first one.
    if: { operator: "in", get: "OBX-3.1", values: ["2345-7", "11502-2"] },
  }], ORU_R01);
  assert.deepEqual(lab.changed, [["OBX[2]-3.1", "OBX[3]-3.1"], ["OBX[2]-3.3", "OBX[3]-3.3"]]);
  assert.match(lab.out, /\rOBX\|1\|NM\|718-7\^Hemoglobin\^LN\|/);
  assert.match(lab.out, /\rOBX\|2\|ST\|2345-7\^Glucose\^LN\|/);
  assert.match(lab.out, /\rOBX\|3\|ED\|11502-2\^Report\^LN\|/);
  const msg = parseHl7(LOCAL.replace("|19800101|1|", "|19800101|9|"));
  const fail = applyHl7Edits(edits([{ op: "translate", path: "PID-8", set: "localSex" }]), msg, {
    translationSets: SETS,
  });
  assert.ok(!fail.ok);
  assert.equal(
    fail.failure.message,
    "edit [0] translate at PID-8: no entry in translation set localSex (onMissing: fail)",
  );
  const dflt = applyHl7Edits(
    edits([{
      op: "translate",
      path: "PID-8",
      set: "localSex",
      onMissing: "default",
      default: "U",
    }]),
    msg,
    { translationSets: SETS },
  );
  assert.ok(dflt.ok && dflt.message.get("PID-8") === "U");
});

Deno.test("hl7 map: MSH-3..6 per destination, encoded; the rest of MSH untouched", () => {
  const { segs, changed } = run([{
    op: "map",
    sendingApplication: "ENGINE",
    sendingFacility: "HOSP",
    receivingFacility: "LAB^1.2.3^ISO",
  }], LOCAL);
  assert.equal(
    segs[0],
    "MSH|^~\\&|ENGINE|HOSP|ENGINE|LAB^1.2.3^ISO|20240102030405||ADT^A01|C1|P|2.5.1",
  );
  assert.deepEqual(changed, [["MSH-3", "MSH-6"]]); // MSH-4 already HOSP
});

Deno.test("hl7 conditions: on the edit's own value, on another path, and/or/not", () => {
  const onOwn = run([{
    op: "set",
    path: "PID-3[*].4",
    value: "X",
    if: { operator: "equals", value: "OLD" },
  }], LOCAL);
  assert.deepEqual(onOwn.changed, [["PID-3[1].4"]]);
  const other = run([{
    op: "delete",
    segments: ["ZPI"],
    if: { operator: "equals", get: "MSH-4", value: "OTHER" },
  }], LOCAL);
  assert.equal(other.out, LOCAL);
  const complex = run([{
    op: "map",
    receivingApplication: "APP",
    if: {
      operator: "and",
      conditions: [{ operator: "matches", get: "MSH-9", pattern: "^ADT\\^A0[1-4]$" }, {
        operator: "not",
        condition: { operator: "exists", get: "PID-30" },
      }],
    },
  }], LOCAL);
  assert.deepEqual(complex.changed, [["MSH-5"]]);
});

Deno.test("hl7 edits keep every untouched byte: other segments, other fields, separators", () => {
  for (const sep of ["\r", "\n", "\r\n"]) {
    const text = ADT_A01.replaceAll("\r", sep) + sep;
    const msg = parseHl7(text);
    const r = applyHl7Edits(
      edits([{ op: "set", path: "PID-8", value: "F" }, { op: "delete", segments: ["ZPI"] }]),
      msg,
    );
    assert.ok(r.ok);
    const expected = text.replace("|19700101|M|", "|19700101|F|").replace(
      `${sep}ZPI|1|custom^value|\\H\\bold\\N\\ text`,
      "",
    );
    assert.equal(r.message.encode(), expected, JSON.stringify(sep));
  }
});

Deno.test("hl7 edit validation: problems with paths relative to the list", () => {
  const c = compileHl7Edits([
    { op: "sett", path: "PID-3" },
    { op: "set", path: "PID-3[x]", value: "a" },
    { op: "set", path: "MSH-2", value: "a" },
    { op: "copy", from: "PID-3[*]", to: "PID-4" },
    { op: "delete" },
    { op: "delete", segments: ["MSH"] },
    { op: "translate", path: "PID-8", set: "nope", onMissing: "skip" },
    { op: "map" },
    { op: "map", sendingFacility: "A", if: { operator: "exists" } },
    { op: "set", path: "PID-8", value: 1, extra: true },
  ], { translationSets: new Set(["localSex"]) });
  assert.ok(!c.ok);
  assert.deepEqual(formatProblems(c.problems, "destinations[0].hl7Edits"), [
    "destinations[0].hl7Edits[0].op: unknown (known: set, copy, delete, translate, map)",
    'destinations[0].hl7Edits[1].path: must be an HL7 path like "PID-3[*].4", "OBX[*]-3.1" or "NTE[*]"',
    "destinations[0].hl7Edits[2].path: MSH, MSH-1 and MSH-2 cannot be changed",
    "destinations[0].hl7Edits[3].from: must address one place (no [*])",
    "destinations[0].hl7Edits[4].path: delete needs either path or segments",
    "destinations[0].hl7Edits[5].segments: MSH cannot be deleted",
    "destinations[0].hl7Edits[6].set: unknown translation set (declared: localSex)",
    "destinations[0].hl7Edits[6].onMissing: unknown (known: pass, default, fail)",
    "destinations[0].hl7Edits[7]: map needs at least one of sendingApplication, sendingFacility, receivingApplication, receivingFacility",
    "destinations[0].hl7Edits[8].if.get: required here (an HL7 path): this edit has no single path to read",
    "destinations[0].hl7Edits[9].extra: unknown for set (known: op, name, comment, if, path, value, raw)",
    "destinations[0].hl7Edits[9].value: must be a string",
  ]);
});

Deno.test("hl7 edit validation: a raw value may not hold a control character; an escaped one is written \\Xhh\\", () => {
  const c = compileHl7Edits([
    { op: "set", path: "PID-11", value: "2 SIDE ST\r^^CITY", raw: true },
    { op: "set", path: "PID-5", value: "DOE\x1cJANE", raw: true },
    { op: "set", path: "PID-13", value: "555\t0100", raw: true },
  ]);
  assert.ok(!c.ok);
  assert.deepEqual(formatProblems(c.problems, "hl7Edits"), [
    'hl7Edits[0].value: a raw value may not hold the control character 0x0D (at 9); write it as \\X0D\\, or leave "raw" out to have it escaped',
    'hl7Edits[1].value: a raw value may not hold the control character 0x1C (at 3); write it as \\X1C\\, or leave "raw" out to have it escaped',
  ]);
  // Without "raw" the same value is escaped, and the message stays one message MLLP can carry.
  const { out } = run([{ op: "set", path: "PID-5", value: "DOE\x1cJANE" }], ADT_A01);
  assert.match(out, /\|DOE\\X1C\\JANE~SMITH/);
  assert.ok(!out.includes("\x1c"));
});
