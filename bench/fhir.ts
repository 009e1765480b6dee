/**
 * FHIR conversion benchmark: ADT^A01 → FHIR R4 message Bundle (`hl7ToFhir`: parse, data-model
 * tables, FHIR tables, residue and extensions, UUID v5 ids) per CPU second, on the shared corpus
 * (`shared/tools/hl7corpus.mjs`). Side by side in the same run:
 *
 * - `@medplum/core` parsing the same HL7 and building a Patient, an Encounter and a
 *   MessageHeader by hand (identifiers, name, birth date, gender, address, phone, class, period);
 *   it keeps nothing it does not map and makes no ids, so it is a floor for the work;
 * - the data-model translation (`parse + hl7ToModel`), the target: FHIR conversion at
 *   least as fast as it. It is not expected to be met: FHIR conversion runs the data-model
 *   translation first and then the FHIR tables, so the ratio says what the FHIR step costs;
 * - FHIR → HL7 (`fhirToHl7`) for the same bundles.
 *
 * Medians over alternating rounds after a warm-up; per second of wall time and of this
 * process's CPU time. Run: `deno run -A bench/fhir.ts [messages=600] [rounds=5]`. About 15 s.
 *
 * @module
 */

import { Hl7Message as MedplumMessage } from "@medplum/core";
import { hl7ToModel } from "../codecs/datamodel/mod.ts";
import { type FhirBundle, fhirToHl7, hl7ToFhir } from "../codecs/fhir/mod.ts";
import { parseHl7 } from "../codecs/hl7v2/mod.ts";
import { cpuRates, over, type Pass, printJson, printLine, printTable } from "./harness.ts";

interface Corpus {
  corpus(n: number, seed: number): string[];
}

const gen = await import(
  new URL("../../shared/tools/hl7corpus.mjs", import.meta.url).href
) as Corpus;

const N = Number(Deno.args[0] ?? 600);
const ROUNDS = Number(Deno.args[1] ?? 5);
const ZONE = "America/Chicago";
const adt = gen.corpus(N, 7).filter((m) => m.includes("|ADT^A01"));
// The FHIR → HL7 row's input, as bundles arrive (parsed JSON). Keeping hl7ToFhir's own objects
// alive for the whole run would teach V8 that what its allocation sites make survives, and V8
// would then allocate every later bundle directly in the old generation (allocation-site
// pretenuring): the ADT → FHIR row measured ~1.5× more CPU per message that way (the same row
// with `--v8-flags=--no-allocation-site-pretenuring` gave the figure it gives now).
const bundles: FhirBundle[] = adt.map((m) =>
  JSON.parse(JSON.stringify(hl7ToFhir(m, { timeZone: ZONE })))
);

function hl7Date(v: string): string | undefined {
  return v.length >= 8 ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}` : undefined;
}

/** Medplum: parse, then the same main resources by hand. */
function medplumBundle(text: string): unknown {
  const m = MedplumMessage.parse(text);
  const pid = m.getSegment("PID");
  const pv1 = m.getSegment("PV1");
  const gender = { F: "female", M: "male", O: "other" }[pid?.getComponent(8, 1) ?? ""] ??
    "unknown";
  const patient = {
    resourceType: "Patient",
    identifier: [{ value: pid?.getComponent(3, 1), system: pid?.getComponent(3, 4) }],
    name: [{ family: pid?.getComponent(5, 1), given: [pid?.getComponent(5, 2)] }],
    birthDate: hl7Date(pid?.getComponent(7, 1) ?? ""),
    gender,
    address: [{
      line: [pid?.getComponent(11, 1)],
      city: pid?.getComponent(11, 3),
      state: pid?.getComponent(11, 4),
      postalCode: pid?.getComponent(11, 5),
    }],
    telecom: [{ system: "phone", value: pid?.getComponent(13, 1) }],
  };
  const encounter = {
    resourceType: "Encounter",
    status: "in-progress",
    class: { code: { I: "IMP", O: "AMB", E: "EMER" }[pv1?.getComponent(2, 1) ?? ""] ?? "AMB" },
    identifier: [{ value: pv1?.getComponent(19, 1) }],
    period: { start: hl7Date(pv1?.getComponent(44, 1) ?? "") },
  };
  const header = {
    resourceType: "MessageHeader",
    eventCoding: { code: m.getSegment("MSH")?.getComponent(9, 2) },
    source: { endpoint: "urn:x" },
  };
  return {
    resourceType: "Bundle",
    type: "message",
    entry: [header, patient, encounter].map((resource) => ({ resource })),
  };
}

const contenders: Pass[] = [
  {
    name: "ADT^A01 → FHIR Bundle (hl7ToFhir)",
    pass: over(adt, (m) => hl7ToFhir(m, { timeZone: ZONE })),
  },
  { name: "ADT^A01: @medplum/core parse + resources by hand", pass: over(adt, medplumBundle) },
  {
    name: "ADT^A01: parse + hl7ToModel (data model, the target)",
    pass: over(adt, (m) => hl7ToModel(parseHl7(m), { timeZone: ZONE })),
  },
  {
    name: "FHIR Bundle → ADT^A01 (fhirToHl7)",
    pass: over(bundles, (b) => fhirToHl7(b, { timeZone: ZONE })),
  },
];

const rates = cpuRates(contenders, { rounds: ROUNDS, warmupMs: 600 });
printLine(`corpus: ${adt.length} ADT^A01 messages`);
printTable(
  ["conversion", "msg/s (wall)", "msg/s (CPU)"],
  rates.map((r) => [r.name, Math.round(r.wall), Math.round(r.cpu)]),
);
const [ours, medplum, dm, back] = rates as [
  typeof rates[0],
  typeof rates[0],
  typeof rates[0],
  typeof rates[0],
];
printLine(
  `\nADT^A01 → FHIR: ${Math.round(ours.cpu)} msg per CPU second; ` +
    `${(ours.cpu / medplum.cpu).toFixed(2)}× @medplum/core by hand; ` +
    `${(ours.cpu / dm.cpu).toFixed(2)}× the data-model translation (target 1: ` +
    `${ours.cpu >= dm.cpu ? "met" : "NOT met"})`,
);
printJson({
  bench: "fhir",
  adtToFhirPerSec: Math.round(ours.cpu),
  ratio: ours.cpu / dm.cpu,
  target: 1,
  reference: {
    medplumByHandPerSec: Math.round(medplum.cpu),
    dataModelPerSec: Math.round(dm.cpu),
    fhirToHl7PerSec: Math.round(back.cpu),
    oursVsMedplum: ours.cpu / medplum.cpu,
  },
});
