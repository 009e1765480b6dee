/**
 * The plan of one data-model JSON message posted to `POST /endpoint`: every check the engine makes
 * of it (its source, its schema, `Meta.Destinations`, environments, subscriptions) and every
 * payload it will be stored with (modifiers and HL7 edits, FHIR bundles, HL7 v2), made without
 * touching the store. Pure: the engine's thread makes it of small messages, the planning thread of
 * large ones (`api_large_json.ts`), and `api_inbox.ts` then stores it; so the answer and what is
 * stored are the same wherever it was made. A plan is plain data (the payloads as bytes), so it
 * crosses threads as it is.
 * @module
 */

import {
  type DataModelMessage,
  DataModelValidationError,
  jsonToHl7,
  validateDataModel,
} from "../../codecs/datamodel/mod.ts";
import type { Config, DestinationConfig, SourceConfig } from "../config/mod.ts";
import type { ApiAcceptResult, ApiRequest } from "../ports.ts";
import { readDestinations, sourceOf } from "./api_checks.ts";
import { shapeApiRoutes } from "./api_shaping.ts";
import { fhirKey, fhirPayload } from "./fhir_routing.ts";
import { defaultFormat } from "./hl7_routing.ts";
import type { Shaped } from "./shaping.ts";
import { errorMessage } from "../runtime/errors.ts";
import { type RouteFormat, selectRoutes } from "./subscriptions.ts";

/** A log line the plan asks for, written by whoever stores it (on the engine's thread). */
export interface PlanLogLine {
  level: "info" | "warn";
  event: string;
  fields: Record<string, unknown>;
}

/** A message ready to store: its routes and the payloads they get, in the order stored. */
export interface ApiJsonPlan {
  sourceId: string;
  dataModel: string;
  eventType: string;
  /** The message's `Meta`, which the answer repeats. */
  meta: Record<string, unknown>;
  /** `Meta.Destinations` as destination ids (undefined when absent). */
  named?: string[];
  /** How entries of `Meta.Destinations` were matched by name (the answer's warnings). */
  notes: string[];
  routes: { destinationId: string; format: RouteFormat }[];
  /** Routes with a payload of their own (modifiers, HL7 edits), by destination id. */
  shaped: [string, Shaped][];
  /** FHIR bundles by {@link fhirKey}. */
  fhir: [string, { bytes: Uint8Array; contentType: string }][];
  /** HL7 v2 by the JSON of its MSH-3..6 ({@link mshOptions}). */
  hl7: [string, Uint8Array][];
}

/**
 * What planning came to: a plan, a refusal (the answer), or an error thrown while translating
 * (answered as a failure to store, as it always was).
 */
export type ApiJsonOutcome =
  | { kind: "planned"; plan: ApiJsonPlan; logs: PlanLogLine[] }
  | { kind: "refused"; result: ApiAcceptResult & { ok: false }; logs: PlanLogLine[] }
  | { kind: "threw"; error: string; logs: PlanLogLine[] };

const encoder = new TextEncoder();

/** Plans `json`, posted by `request`'s source under `config`; see the module doc. */
export function planApiJson(
  config: Config,
  request: Pick<ApiRequest, "sourceId" | "environment">,
  json: unknown,
  options: {
    /** `config`'s destinations by id, when the caller keeps them. */
    destinations?: ReadonlyMap<string, DestinationConfig>;
    /** Told what a translation threw (for the log), before the outcome says so. */
    thrown?: (error: unknown) => void;
  } = {},
): ApiJsonOutcome {
  const logs: PlanLogLine[] = [];
  const refused = (result: ApiAcceptResult & { ok: false }): ApiJsonOutcome => ({
    kind: "refused",
    result,
    logs,
  });
  const destinations = options.destinations ??
    new Map(config.destinations.map((d) => [d.id, d]));
  const found = sourceOf(config, request);
  if (!found.ok) return refused(found);
  const source = found.source;
  const checked = validateDataModel(json, {
    maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
  });
  if (!checked.ok) {
    const tooLarge = checked.issues.find((i) => /over the limit/.test(i.rule));
    if (tooLarge) {
      return refused({ ok: false, status: 413, error: `${tooLarge.path}: ${tooLarge.rule}` });
    }
    return refused({
      ok: false,
      status: 400,
      error: `the message does not match the ${describe(json)} schema`,
      problems: checked.issues.map((i) => ({ path: i.path, rule: i.rule })),
    });
  }
  const meta = (json as { Meta: Record<string, unknown> }).Meta;
  const read = readDestinations(meta.Destinations, config.destinations, source.environment);
  if (!read.ok) {
    return refused(
      read.status === 400
        ? {
          ok: false,
          status: 400,
          error: read.error,
          problems: [{ path: read.path, rule: read.error }],
        }
        : { ok: false, status: 404, error: read.error },
    );
  }
  const named = read.matches?.map((m) => m.id);
  if (read.notes.length > 0) {
    logs.push({
      level: "info",
      event: "api.destination-by-name",
      fields: { source: source.id, notes: read.notes },
    });
  }
  for (const id of named ?? []) {
    const d = destinations.get(id)!;
    if (d.environment !== source.environment) {
      return refused({
        ok: false,
        status: 403,
        error: `destination ${id} is in environment ${d.environment}, not ${source.environment}`,
      });
    }
  }
  let routes = selectRoutes(
    config.subscriptions,
    {
      from: { source: source.id },
      dataModel: checked.dataModel,
      eventType: checked.eventType,
      json,
    },
    (id) => defaultFormat(destinations.get(id)),
  );
  if (named) {
    const unsubscribed = named.filter((id) => !routes.some((r) => r.destinationId === id));
    if (unsubscribed.length > 0) {
      return refused({
        ok: false,
        status: 403,
        error: `no subscription of source ${source.id} sends ${checked.dataModel}.` +
          `${checked.eventType} to ${unsubscribed.join(", ")}`,
      });
    }
    routes = routes.filter((r) => named.includes(r.destinationId));
  }
  const hl7Of = (d: DestinationConfig | undefined) =>
    jsonToHl7(json, {
      timeZone: "UTC",
      maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
      validated: checked,
      ...mshOptions(meta, source, d),
    });
  const fhir = new Map<string, { bytes: Uint8Array; contentType: string }>();
  const hl7 = new Map<string, Uint8Array>();
  let shaped: Map<string, Shaped>;
  try {
    const planned = shapeApiRoutes(config, routes, destinations, json, hl7Of);
    if (!planned.ok) {
      logs.push({
        level: "warn",
        event: "api.shaping-failed",
        fields: { source: source.id, reason: planned.reason },
      });
      return refused({ ok: false, status: 422, error: planned.reason });
    }
    shaped = planned.shaped;
    for (const r of routes) {
      if (r.format !== "fhir") continue;
      const d = destinations.get(r.destinationId)!;
      if (fhir.has(fhirKey(d))) continue;
      const made = fhirPayload(json as DataModelMessage, d);
      if (!made.ok) {
        return refused({
          ok: false,
          status: 400,
          error: `destination ${d.id} wants FHIR: ${made.reason}`,
          problems: [{ path: "Meta.EventType", rule: made.reason }],
        });
      }
      const { bytes, contentType } = made.payload;
      fhir.set(made.payload.key, { bytes, contentType });
    }
    for (const r of routes) {
      if (r.format !== "hl7v2" || shaped.has(r.destinationId)) continue;
      const d = destinations.get(r.destinationId);
      const key = JSON.stringify(mshOptions(meta, source, d));
      if (hl7.has(key)) continue;
      hl7.set(key, encoder.encode(hl7Of(d)));
    }
  } catch (error) {
    if (error instanceof DataModelValidationError) {
      return refused({
        ok: false,
        status: 400,
        error: "the message cannot be written as HL7 v2",
        problems: error.issues.map((i) => ({ path: i.path, rule: i.rule })),
      });
    }
    options.thrown?.(error);
    return { kind: "threw", error: errorMessage(error), logs };
  }
  return {
    kind: "planned",
    plan: {
      sourceId: source.id,
      dataModel: checked.dataModel,
      eventType: checked.eventType,
      meta,
      ...(named ? { named } : {}),
      notes: read.notes,
      routes: routes.map((r) => ({ destinationId: r.destinationId, format: r.format })),
      shaped: [...shaped],
      fhir: [...fhir],
      hl7: [...hl7],
    },
    logs,
  };
}

/** The buffers of a plan's payloads, each once: moved to the other thread, not copied. */
export function planTransferables(outcome: ApiJsonOutcome): ArrayBuffer[] {
  if (outcome.kind !== "planned") return [];
  const buffers = new Set<ArrayBuffer>();
  const add = (bytes: Uint8Array) => {
    if (bytes.buffer instanceof ArrayBuffer) buffers.add(bytes.buffer);
  };
  for (const [, s] of outcome.plan.shaped) add(s.bytes);
  for (const [, f] of outcome.plan.fhir) add(f.bytes);
  for (const [, h] of outcome.plan.hl7) add(h);
  return [...buffers];
}

/** MSH-3 to MSH-6 for a destination: its own values, else the source's; MSH-4 `Meta.FacilityCode`. */
export function mshOptions(
  meta: Record<string, unknown>,
  source: SourceConfig,
  destination: DestinationConfig | undefined,
): {
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
} {
  const out: Record<string, string> = {};
  for (const k of MSH_KEYS) {
    const v = destination?.msh?.[k] ?? source.msh?.[k];
    if (v !== undefined) out[k] = v;
  }
  if (typeof meta.FacilityCode === "string" && meta.FacilityCode !== "") {
    out.sendingFacility = meta.FacilityCode;
  }
  return out;
}

const MSH_KEYS = [
  "sendingApplication",
  "sendingFacility",
  "receivingApplication",
  "receivingFacility",
] as const;

function describe(json: unknown): string {
  const meta = json && typeof json === "object"
    ? (json as Record<string, unknown>).Meta as Record<string, unknown> | undefined
    : undefined;
  const model = typeof meta?.DataModel === "string" ? meta.DataModel : "data model";
  return typeof meta?.EventType === "string" ? `${model}.${meta.EventType}` : model;
}
