/**
 * The data-model translator: HL7 v2 ⇄ Redox-style JSON (`Meta` + `Patient`, `Visit`,
 * `Orders`…), table-driven so that one mapping serves both directions, with validation of
 * incoming JSON. Pure: no I/O.
 *
 * ```ts
 * const json = hl7ToJson(text, { timeZone: "America/Chicago" });
 * json.Meta.DataModel;                 // "PatientAdmin"
 * json.Patient.Demographics.LastName;  // "DOE"
 * const hl7 = jsonToHl7(json, { timeZone: "America/Chicago" }); // same message back
 * const check = validateDataModel(body); // {ok: false, issues: [{path, rule}]}
 * ```
 *
 * @module
 */

export {
  type Hl7Result,
  hl7ToModel,
  type Hl7ToModelOptions,
  type ModelMessage,
  type ModelResult,
  modelToHl7,
  type ModelToHl7Options,
  type ModelValidation,
  supportedModels,
  validateModel,
} from "./api.ts";
export {
  DataModelError,
  type DataModelErrorCode,
  DataModelValidationError,
  formatIssue,
  type Hl7Fault,
  type ValidationIssue,
} from "./errors.ts";
export {
  CANCELED_EVENTS,
  type DataModelName,
  dataModels,
  eventFor,
  EVENTS,
  type EventSpec,
  eventTypes,
  identifyHl7,
  mappedEvent,
  type UnmappedReason,
  unmappedReason,
} from "./events.ts";
export { type ExtensionSegment, HL7_EXTENSION, type Hl7Extension } from "./extensions.ts";
export {
  hl7ToQueryResponse,
  QUERY_EVENT,
  QUERY_MODEL,
  type QueryCriteria,
  queryCriteria,
  type QueryResponse,
  type QueryResponseOptions,
  type QueryStyle,
  queryToHl7,
  type QueryToHl7Options,
  RESPONSE_EVENT,
  validateQuery,
} from "./query.ts";
export {
  type DataModelMessage,
  type DataModelMeta,
  hl7ToJson,
  type Hl7ToJsonOptions,
  jsonToHl7,
  type JsonToHl7Options,
  type MetaError,
  type MetaLog,
  type MetaRef,
} from "./translate.ts";
export {
  DEFAULT_MAX_EMBEDDED_FILE_BYTES,
  MAX_LISTED_ISSUES,
  notListedNote,
  validateDataModel,
  type ValidateOptions,
  type ValidationResult,
} from "./validate.ts";
