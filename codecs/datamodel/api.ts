/**
 * The translator as result values instead of exceptions, under the names the engine's wiring
 * was planned with: {@link hl7ToModel}, {@link modelToHl7}, {@link validateModel},
 * {@link supportedModels} (and `mappedEvent` in events.ts). They wrap `hl7ToJson`, `jsonToHl7` and
 * `validateDataModel`, which do the work.
 *
 * @module
 */

import { type Hl7Message, parseHl7 } from "../hl7v2/mod.ts";
import { DataModelError, type ValidationIssue } from "./errors.ts";
import { dataModels, eventTypes } from "./events.ts";
import {
  type DataModelMessage,
  hl7ToJson,
  jsonToHl7,
  type MetaLog,
  type MetaRef,
} from "./translate.ts";
import { validateDataModel } from "./validate.ts";

/** A data-model JSON message: `Meta` and the model's objects. */
export type ModelMessage = DataModelMessage;

/** Options of {@link hl7ToModel}. */
export interface Hl7ToModelOptions {
  /** IANA zone of the facility, for HL7 times without offset. */
  readonly timeZone: string;
  /** `Meta.Source`: the integration the message came from. */
  readonly source?: MetaRef;
  /** `Meta.Destinations`. */
  readonly destinations?: readonly MetaRef[];
  /** `Meta.Logs`. */
  readonly logs?: readonly MetaLog[];
  /** Largest embedded file in decoded bytes (default 10 MB). */
  readonly maxEmbeddedBytes?: number;
  /** Keep unmapped HL7 as `Extensions.HL7v2` (default true). */
  readonly extensions?: boolean;
}

/** Options of {@link modelToHl7}. */
export interface ModelToHl7Options {
  /** IANA zone whose wall time (with offset) date-times are written in. */
  readonly timeZone: string;
  /** MSH-10 (default: the one kept in the extensions, else a new one). */
  readonly controlId?: string;
  /** MSH-3. */
  readonly sendingApplication?: string;
  /** MSH-4 (default `Meta.FacilityCode`). */
  readonly sendingFacility?: string;
  /** MSH-5. */
  readonly receivingApplication?: string;
  /** MSH-6. */
  readonly receivingFacility?: string;
  /** The time (MSH-7, EVN-2) when `Meta.EventDateTime` is absent (default now). */
  readonly now?: Date;
  /** Largest embedded file in decoded bytes (default 10 MB). */
  readonly maxEmbeddedBytes?: number;
}

/** A translation's outcome. */
export type ModelResult =
  | { readonly ok: true; readonly value: ModelMessage }
  | { readonly ok: false; readonly error: DataModelError };

/** {@link modelToHl7}'s outcome. */
export type Hl7Result =
  | { readonly ok: true; readonly message: Hl7Message }
  | { readonly ok: false; readonly error: DataModelError };

/** {@link validateModel}'s outcome. */
export type ModelValidation =
  | { readonly ok: true; readonly value: ModelMessage }
  | { readonly ok: false; readonly problems: readonly ValidationIssue[] };

function attempt<T>(fn: () => T): T | { ok: false; error: DataModelError } {
  try {
    return fn();
  } catch (error) {
    if (error instanceof DataModelError) return { ok: false, error };
    throw error;
  }
}

/**
 * HL7 v2 → data-model JSON. `error.code` is `unmapped` when no data model maps the message
 * (route the HL7 as it is), `invalid` when a value cannot be translated.
 */
export function hl7ToModel(msg: Hl7Message, options: Hl7ToModelOptions): ModelResult {
  return attempt(() => ({
    ok: true as const,
    value: hl7ToJson(msg, {
      timeZone: options.timeZone,
      ...(options.source ? { source: options.source } : {}),
      ...(options.destinations ? { destinations: options.destinations } : {}),
      ...(options.logs ? { logs: options.logs } : {}),
      ...(options.maxEmbeddedBytes !== undefined
        ? { maxEmbeddedFileBytes: options.maxEmbeddedBytes }
        : {}),
      ...(options.extensions !== undefined ? { extensions: options.extensions } : {}),
    }),
  }));
}

/**
 * Data-model JSON → HL7 v2 (validated first). `error` is a `DataModelValidationError` with
 * every problem when the JSON breaks the schema.
 */
export function modelToHl7(value: ModelMessage, options: ModelToHl7Options): Hl7Result {
  const { maxEmbeddedBytes, ...rest } = options;
  return attempt(() => ({
    ok: true as const,
    message: parseHl7(jsonToHl7(value, {
      ...rest,
      ...(maxEmbeddedBytes !== undefined ? { maxEmbeddedFileBytes: maxEmbeddedBytes } : {}),
    })),
  }));
}

/**
 * Checks JSON against the schema of its data model and event type; never throws. Problems
 * name the JSON path and the rule (`Patient.Demographics.DOB`, `not a date`).
 */
export function validateModel(json: unknown): ModelValidation {
  const r = validateDataModel(json);
  return r.ok ? { ok: true, value: json as ModelMessage } : { ok: false, problems: r.issues };
}

/** Every data model with its event types. */
export function supportedModels(): { dataModel: string; eventTypes: string[] }[] {
  return dataModels().map((dataModel) => ({ dataModel, eventTypes: eventTypes(dataModel) }));
}
