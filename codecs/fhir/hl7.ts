/**
 * HL7 v2 ⇄ FHIR R4 through the data model: {@link hl7ToFhir} reads HL7 with the data-model
 * tables and writes FHIR with the resource tables; {@link fhirToHl7} walks both back.
 *
 * @module
 */

import {
  type DataModelMessage,
  hl7ToJson,
  type Hl7ToJsonOptions,
  jsonToHl7,
  type JsonToHl7Options,
} from "../datamodel/mod.ts";
import type { Hl7Message } from "../hl7v2/mod.ts";
import { type FhirBundle, type FhirOptions, fhirToModel, modelToFhir } from "./bundle.ts";

/** Options of {@link hl7ToFhir}: the data model's and the FHIR side's. */
export type Hl7ToFhirOptions = Hl7ToJsonOptions & FhirOptions;

/** Options of {@link fhirToHl7}. */
export type FhirToHl7Options = JsonToHl7Options & FhirOptions;

/**
 * An HL7 v2 message → a FHIR R4 message Bundle.
 *
 * @throws {DataModelError} when no data model maps the message (see `hl7ToJson`).
 */
export function hl7ToFhir(
  message: Hl7Message | string,
  options: Hl7ToFhirOptions = {},
): FhirBundle {
  return modelToFhir(hl7ToJson(message, options), options);
}

/**
 * A FHIR R4 message Bundle → an HL7 v2 message (segments separated by CR).
 *
 * @throws {FhirError} for a bundle that is not a supported message.
 * @throws {DataModelValidationError} when what the bundle says is not a valid message of its
 * data model (a patient without identifier...).
 */
export function fhirToHl7(bundle: unknown, options: FhirToHl7Options = {}): string {
  return jsonToHl7(fhirToModel(bundle, options), options);
}

/** The data-model JSON of a bundle, for callers that route by data model. */
export function fhirToJson(bundle: unknown, options: FhirOptions = {}): DataModelMessage {
  return fhirToModel(bundle, options);
}
