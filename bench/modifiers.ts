/**
 * Config modifier benchmark: a list of 10 typical operations (translate a code, delete PHI,
 * append an identifier from an extension, a conditional constant, a concat, a switch, a [*]
 * translate over results…) applied to the data-model JSON of an ADT^A01, measured next to the
 * HL7 → JSON translation without modifiers, in the same run. Target: the list costs ≤ 20 µs per
 * message (CPU time). The HL7 edit list (5 edits on the same message) is reported beside it.
 *
 * Figures are medians over rounds that alternate the contenders, per CPU second
 * (`process.cpuUsage`) so that a busy machine does not inflate them.
 *
 * Run: `deno run -A bench/modifiers.ts [messages=500] [rounds=7]`. About 6 s.
 *
 * @module
 */

import process from "node:process";
import { hl7ToModel } from "../codecs/datamodel/mod.ts";
import { parseHl7 } from "../codecs/hl7v2/mod.ts";
import {
  applyHl7Edits,
  applyModifiers,
  compileHl7Edits,
  compileModifiers,
  compileTranslationSets,
} from "../codecs/modifiers/mod.ts";
import { median, printJson, printLine, printTable } from "./harness.ts";

const N = Number(Deno.args[0] ?? 500);
const ROUNDS = Number(Deno.args[1] ?? 7);
const TARGET_US = 20;

function adt(i: number): string {
  return [
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|C${i}|P|2.5.1`,
    "EVN|A01|20240315123000",
    `PID|1|MRN${i}|${i}^^^HOSP^MR~${900000 + i}^^^SSA^SS||DOE^JANE^Q||19800101|${1 + (i % 2)}|||` +
    `1 MAIN ST^^MADISON^WI^53703||(608)555-0100^PRN^PH|||S||ACCT${i}|123-45-${1000 + (i % 9000)}`,
    "PV1|1|I|4WEST^412^B||||1234^ATTEND^ALICE^^^DR|||MED||||ADM|A0|||||V" + i,
    "ZPI|1|vip",
  ].join("\r");
}

const texts = Array.from({ length: N }, (_, i) => adt(i));
const translate = (t: string) => {
  const r = hl7ToModel(parseHl7(t), { timeZone: "America/Chicago" });
  if (!r.ok) throw r.error;
  return r.value;
};
const jsons = texts.map(translate);
const messages = texts.map((t) => parseHl7(t));

const sets = compileTranslationSets({
  localSex: { entries: { "1": "Female", "2": "Male" }, onMissing: "default", default: "Unknown" },
  classes: { entries: { Inpatient: "IP", Outpatient: "OP" } },
  hl7Sex: { entries: { "1": "F", "2": "M" }, onMissing: "fail" },
});
if (!sets.ok) throw new Error(JSON.stringify(sets.problems));

const TEN = [
  { flavor: "put", selector: "Patient.Demographics.Sex", schema: { translate: "localSex" } },
  { flavor: "delete", selector: "Patient.Demographics.SSN" },
  {
    flavor: "put",
    selector: "Patient.Identifiers",
    schema: {
      concat: [{ use: "value" }, {
        properties: { ID: { get: "$.Extensions.HL7v2.Fields.PID-2" }, IDType: { constant: "MRN" } },
      }],
    },
  },
  { flavor: "delete", selector: 'Patient.Identifiers[?IDType=="SSA"]' },
  { flavor: "put", selector: "Visit.PatientClass", schema: { translate: "classes" } },
  {
    flavor: "put",
    selector: "Meta.Extensions.Route",
    schema: {
      if: { operator: "matches", get: "$.Meta.FacilityCode", pattern: "^HOSP" },
      then: { constant: "main" },
      else: { constant: "other" },
    },
  },
  {
    flavor: "put",
    selector: "Patient.Demographics.FullName",
    schema: {
      concat: {
        parts: [{ get: "$.Patient.Demographics.FirstName" }, {
          get: "$.Patient.Demographics.LastName",
        }],
        separator: " ",
      },
    },
  },
  {
    flavor: "put",
    selector: "Visit.Priority",
    schema: {
      switch: {
        cases: [{
          when: { operator: "in", get: "$.Visit.PatientClass", values: ["IP", "ER"] },
          then: { constant: "high" },
        }],
        otherwise: { constant: "normal" },
      },
    },
  },
  { flavor: "put", selector: "Patient.Identifiers[*].IDType", schema: { default: "MR" } },
  { flavor: "delete", selector: "Extensions" },
];
const EDITS = [
  { op: "copy", from: "PID-2", to: "PID-3[1].1" },
  { op: "set", path: "PID-3[*].4", value: "HOSP" },
  { op: "translate", path: "PID-8", set: "hl7Sex" },
  { op: "delete", segments: ["ZPI"] },
  { op: "map", sendingFacility: "ENGINE" },
];
const names = new Set(sets.sets.keys());
const mods = compileModifiers(TEN, { translationSets: names });
const edits = compileHl7Edits(EDITS, { translationSets: names });
if (!mods.ok) throw new Error(JSON.stringify(mods.problems));
if (!edits.ok) throw new Error(JSON.stringify(edits.problems));
// A check that the list does what it says before timing it.
const probe = applyModifiers(mods.list, jsons[0], { translationSets: sets.sets });
if (!probe.ok || probe.runs.filter((r) => r.changed.length > 0).length < 9) {
  throw new Error(`the modifier list does not do its work: ${JSON.stringify(probe)}`);
}

let sink = 0;
const contenders: { name: string; run: () => void }[] = [
  {
    name: "HL7 → JSON translation (no modifiers)",
    run: () => {
      for (const t of texts) sink += translate(t).Meta ? 1 : 0;
    },
  },
  {
    name: "10 modifiers on the JSON",
    run: () => {
      for (const j of jsons) {
        const r = applyModifiers(mods.list, j, { translationSets: sets.sets });
        if (!r.ok) throw r.failure;
        sink += r.runs.length;
      }
    },
  },
  {
    name: "5 HL7 edits on the parsed message",
    run: () => {
      for (const m of messages) {
        const r = applyHl7Edits(edits.list, m, { translationSets: sets.sets });
        if (!r.ok) throw r.failure;
        sink += r.message.encode().length;
      }
    },
  },
];

/** Runs `c` over the corpus until `ms` of wall time have passed; returns µs per message. */
function sample(c: (typeof contenders)[number], ms: number): { cpu: number; wall: number } {
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  do {
    c.run();
    n += N;
  } while (performance.now() - t0 < ms);
  const wall = performance.now() - t0;
  const used = process.cpuUsage(c0);
  return { cpu: (used.user + used.system) / n, wall: (wall * 1000) / n };
}

for (const c of contenders) sample(c, 300); // warm-up: let the JIT settle
const samples = new Map(
  contenders.map((c) => [c.name, { cpu: [] as number[], wall: [] as number[] }]),
);
for (let r = 0; r < ROUNDS; r++) {
  for (const c of contenders) {
    // Long samples: process.cpuUsage moves in scheduler ticks, too coarse for a few ms.
    const x = sample(c, 200);
    const s = samples.get(c.name)!;
    s.cpu.push(x.cpu);
    s.wall.push(x.wall);
  }
}
const us = contenders.map((c) => ({
  name: c.name,
  us: median(samples.get(c.name)!.cpu),
  wall: median(samples.get(c.name)!.wall),
}));
const [base, list, hl7] = us as [typeof us[0], typeof us[0], typeof us[0]];

printTable(
  ["step", "µs per message (CPU)", "µs (wall)"],
  us.map((u) => [u.name, Number(u.us.toFixed(2)), Number(u.wall.toFixed(2))]),
);
printLine(
  `\n10 modifiers: ${list.us.toFixed(2)} µs per message (target ≤ ${TARGET_US}): ` +
    `${list.us <= TARGET_US ? "met" : "NOT met"}; ` +
    `${((list.us / base.us) * 100).toFixed(0)}% of the translation's ${base.us.toFixed(1)} µs`,
);
printJson({
  bench: "modifiers",
  sink: sink > 0,
  usPerMessage: { ratio: Number(list.us.toFixed(3)), targetMax: TARGET_US },
  usPerMessageWall: Number(list.wall.toFixed(2)),
  translationUsPerMessage: Number(base.us.toFixed(2)),
  hl7EditsUsPerMessage: Number(hl7.us.toFixed(2)),
  modifiersVsTranslation: Number((list.us / base.us).toFixed(3)),
});
