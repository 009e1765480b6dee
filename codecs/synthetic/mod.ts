/**
 * Synthetic health data: a seeded registry of made-up patients and coherent event streams over
 * it (admissions, transfers, orders, results, notes, documents, appointments, merges), each event
 * as data-model JSON and HL7 v2 for every event the data model supports. Pure and deterministic:
 * the same seed gives the same patients and messages; no I/O, no clock, no global randomness.
 *
 * ```ts
 * const registry = createRegistry({ seed: "demo", size: 100 });
 * const sim = new Simulator({ seed: "demo", registry, controlIdPrefix: "RUN1-" });
 * for (const m of sim.take(10)) console.log(m.label, m.patient.lastName);
 * searchRegistry(registry, { lastName: "Bixby" }); // the patients of that name
 * ```
 *
 * @module
 */

export { type Episode, FACILITY } from "./episode.ts";
export {
  createRegistry,
  EMPI_AUTHORITY,
  MRN_AUTHORITY,
  patientJson,
  type Registry,
  type RegistryOptions,
  type SearchCriteria,
  searchRegistry,
  type SyntheticAddress,
  type SyntheticContact,
  type SyntheticPatient,
} from "./registry.ts";
export { Rng } from "./rng.ts";
export {
  labelOf,
  resolveEvents,
  SENDING_APPLICATION,
  Simulator,
  type SimulatorOptions,
  supportedLabels,
  type SyntheticMessage,
} from "./stream.ts";
export {
  answerHl7Query,
  answerJsonSearch,
  type Hl7QueryAnswer,
  type Hl7QueryAnswerOptions,
  isPatientQuery,
  type JsonSearchAnswer,
  patientSegments,
} from "./answers.ts";
