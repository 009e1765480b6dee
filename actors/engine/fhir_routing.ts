/**
 * The FHIR form of a routed message: the data-model JSON as a FHIR R4 message Bundle, or as a
 * transaction Bundle when the destination is a FHIR server set to `"bundle": "transaction"`.
 * One conversion per distinct setting: destinations that want the same bundle share its bytes.
 * @module
 */

import type { DataModelMessage } from "../../codecs/datamodel/mod.ts";
import {
  type FhirBundle,
  FhirError,
  type FhirOptions,
  messageToTransaction,
  modelToFhir,
  vxuToFhir,
} from "../../codecs/fhir/mod.ts";
import type { Hl7Message } from "../../codecs/hl7v2/mod.ts";
import type { DestinationConfig } from "../config/mod.ts";
import { errorMessage } from "../runtime/errors.ts";

/** The content type FHIR payloads are stored and sent with. */
export const FHIR_JSON = "application/fhir+json";

/** One FHIR payload, and the key of the settings it was made for. */
export interface FhirPayload {
  /** Destinations with equal keys get the same bytes. */
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

/** A payload, or why it cannot be made. */
export type FhirResult =
  | { readonly ok: true; readonly payload: FhirPayload }
  | { readonly ok: false; readonly reason: string };

const encoder = new TextEncoder();

/** The key of the bundle `destination` wants (its kind and identifier systems). */
export function fhirKey(destination: DestinationConfig): string {
  const fhir = destination.https?.fhir;
  return JSON.stringify([fhir?.bundle ?? "message", fhir?.identifierSystems ?? {}]);
}

/**
 * The bundle `destination` wants of `json`; `cache` (per message) holds what was made already.
 * `json` is not changed: `Meta.Destinations`, which names the JSON routes, is left out.
 */
export function fhirPayload(
  json: DataModelMessage,
  destination: DestinationConfig,
  options: { timeZone?: string; cache?: Map<string, FhirResult> } = {},
): FhirResult {
  const { Destinations: _named, ...meta } = json.Meta;
  return makePayload(
    (o) => modelToFhir({ ...json, Meta: meta } as DataModelMessage, o),
    destination,
    options,
  );
}

/**
 * The bundle `destination` wants of a VXU^V04, which no data model maps: converted from the
 * HL7 itself (codecs/fhir/vxu.ts).
 */
export function vxuPayload(
  message: Hl7Message,
  destination: DestinationConfig,
  options: { timeZone?: string; cache?: Map<string, FhirResult> } = {},
): FhirResult {
  return makePayload((o) => vxuToFhir(message, o), destination, options);
}

/** The bundle `make` gives for `destination`, or what `options.cache` holds for its kind. */
function makePayload(
  make: (options: FhirOptions) => FhirBundle,
  destination: DestinationConfig,
  options: { timeZone?: string; cache?: Map<string, FhirResult> },
): FhirResult {
  const key = fhirKey(destination);
  const cached = options.cache?.get(key);
  if (cached) return cached;
  const result = bundlePayload(make, destination, key, options.timeZone ?? "UTC");
  options.cache?.set(key, result);
  return result;
}

function bundlePayload(
  make: (options: FhirOptions) => FhirBundle,
  destination: DestinationConfig,
  key: string,
  timeZone: string,
): FhirResult {
  const fhir = destination.https?.fhir;
  try {
    const message = make({
      timeZone,
      ...(fhir?.identifierSystems ? { identifierSystems: fhir.identifierSystems } : {}),
    });
    const bundle = fhir?.bundle === "transaction" ? messageToTransaction(message) : message;
    return {
      ok: true,
      payload: { key, bytes: encoder.encode(JSON.stringify(bundle)), contentType: FHIR_JSON },
    };
  } catch (error) {
    const why = error instanceof FhirError
      ? error.issues.map((i) => `${i.path}: ${i.text}`).join("; ")
      : errorMessage(error);
    return { ok: false, reason: `no FHIR bundle: ${why}` };
  }
}
