/**
 * Data-model translation benchmark: HL7 v2 → JSON (`parseHl7` + `hl7ToModel`) per second on the
 * shared corpus (`shared/tools/hl7corpus.mjs`: ~1 KB ADT^A01 and ORU^R01 with 20 OBX), ADT
 * reported separately. Target: ≥ 20,000 ADT msg/s on one core, extensions on (the default,
 * which keeps every unmapped field).
 *
 * Side by side, as a reference (the issue names no peer translator): `@medplum/core` parsing
 * the same ADT messages and reading the same leaves the PatientAdmin table maps, without
 * building any JSON; and JSON → HL7 (`modelToHl7`).
 *
 * Figures are medians over rounds that alternate the contenders, after a warm-up. Each is given
 * per second of wall time and per second of this process's CPU time (`process.cpuUsage`, GC
 * threads included): on a busy machine the wall figure drops while the CPU figure still says
 * what one core does. The headline `adtPerSec` is the CPU figure.
 *
 * Run: `deno run -A bench/datamodel.ts [messages=1000] [rounds=7]`. About 20 s.
 *
 * @module
 */

import { Hl7Message as MedplumMessage } from "@medplum/core";
import { hl7ToModel, type ModelMessage, modelToHl7 } from "../codecs/datamodel/mod.ts";
import { PATIENT_ADMIN } from "../codecs/datamodel/models/patient_admin.ts";
import { parseHl7 } from "../codecs/hl7v2/mod.ts";
import { cpuRates, over, type Pass, printJson, printLine, printTable } from "./harness.ts";

interface Corpus {
  corpus(n: number, seed: number): string[];
}

const gen = await import(
  new URL("../../shared/tools/hl7corpus.mjs", import.meta.url).href
) as Corpus;

const N = Number(Deno.args[0] ?? 1000);
const ROUNDS = Number(Deno.args[1] ?? 7);
const TARGET = 20_000;
const ZONE = "America/Chicago";

const all = gen.corpus(N, 7);
const adt = all.filter((m) => m.includes("|ADT^A01"));
const oru = all.filter((m) => m.includes("|ORU^R01"));
const avgBytes = Math.round(
  adt.reduce((n, m) => n + new TextEncoder().encode(m).length, 0) / adt.length,
);

function translate(text: string): ModelMessage {
  const r = hl7ToModel(parseHl7(text), { timeZone: ZONE });
  if (!r.ok) throw r.error;
  return r.value;
}

const adtJson = adt.map(translate);

/** The leaves the PatientAdmin table reads: segment → [field, component, subcomponent, all reps]. */
const LEAVES = new Map<string, [number, number, number, boolean][]>();
for (const item of PATIENT_ADMIN) {
  if (item.kind !== "segment") continue;
  const list: [number, number, number, boolean][] = [];
  for (const rule of item.rules) {
    if (rule.kind === "leaf" || rule.kind === "range") {
      const [f = 1, c = 1, s = 1] = rule.h.split(".").map(Number);
      list.push([f, c, s, false]);
    } else if (rule.kind === "reps") {
      for (const b of rule.buckets) {
        for (const l of b.leaves) {
          const [c = 1, s = 1] = l.h.split(".").map(Number);
          list.push([rule.f, c, s, true]);
        }
      }
    }
  }
  LEAVES.set(item.seg, list);
}

/** Medplum: parse, then read every mapped leaf of every segment (a sum keeps the reads live). */
function medplumReads(text: string): number {
  const m = MedplumMessage.parse(text);
  let n = 0;
  for (const [name, leaves] of LEAVES) {
    for (const seg of m.getAllSegments(name)) {
      for (const [f, c, s, reps] of leaves) {
        // Typed as always present, but undefined past the segment's last field.
        const field = seg.getField(f) as ReturnType<typeof seg.getField> | undefined;
        if (field === undefined) continue;
        const count = reps ? field.components.length : 1;
        for (let r = 0; r < count; r++) n += field.getComponent(c, s, r).length;
      }
    }
  }
  return n;
}

const contenders: Pass[] = [
  { name: "ADT^A01: parse + hl7ToModel", pass: over(adt, translate) },
  {
    name: "ADT^A01: parse + hl7ToModel, extensions off",
    pass: over(adt, (m) => hl7ToModel(parseHl7(m), { timeZone: ZONE, extensions: false })),
  },
  { name: "ADT^A01: @medplum/core parse + same leaf reads", pass: over(adt, medplumReads) },
  { name: "ORU^R01 (20 OBX): parse + hl7ToModel", pass: over(oru, translate) },
  { name: "whole corpus: parse + hl7ToModel", pass: over(all, translate) },
  {
    name: "ADT^A01: modelToHl7",
    pass: over(adtJson, (j) => modelToHl7(j, { timeZone: ZONE })),
  },
];

// The 700 ms warm-up also fills the zone-offset cache.
const rates = cpuRates(contenders, { rounds: ROUNDS, warmupMs: 700 });

printLine(`corpus: ${all.length} messages (${adt.length} ADT^A01 of ${avgBytes} bytes on average)`);
printTable(
  ["translation", "msg/s (wall)", "msg/s (CPU)"],
  rates.map((r) => [r.name, Math.round(r.wall), Math.round(r.cpu)]),
);
const headline = rates[0] as { wall: number; cpu: number };
const medplum = rates[2] as { wall: number; cpu: number };
const adtPerSec = Math.round(headline.cpu);
printLine(
  `\nADT^A01 HL7 → JSON: ${adtPerSec} msg per CPU second (target ${TARGET}): ` +
    `${adtPerSec >= TARGET ? "met" : "NOT met"}; ` +
    `${(headline.cpu / medplum.cpu).toFixed(2)}× @medplum/core parsing and reading the same leaves`,
);
printJson({
  bench: "datamodel",
  adtBytes: avgBytes,
  adtPerSec,
  adtPerSecWall: Math.round(headline.wall),
  ratio: adtPerSec / TARGET,
  target: 1,
  reference: {
    medplumParseAndReadPerSec: Math.round(medplum.cpu),
    oursVsMedplum: headline.cpu / medplum.cpu,
  },
  figures: Object.fromEntries(
    rates.map((r) => [r.name, { wall: Math.round(r.wall), cpu: Math.round(r.cpu) }]),
  ),
});
