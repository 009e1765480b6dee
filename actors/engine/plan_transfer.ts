/**
 * The application step's plan of one stored message, made the same way on the engine's thread
 * (small messages) and on the planning thread (large ones, see `plan_thread_pool.ts`), and the
 * plain form a plan crosses between threads in: destinations and subscriptions by id and index,
 * the data-model JSON already serialised, every payload as bytes whose buffers are transferred.
 * @module
 */

import { type Hl7ParseErrorCode, tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import type { Hl7Fault } from "../../codecs/datamodel/mod.ts";
import type { Config, DestinationConfig } from "../config/mod.ts";
import {
  type FailedRoute,
  type Hl7Plan,
  planFileRoutes,
  planHl7Routes,
  type PlannedRoute,
} from "./hl7_routing.ts";
import {
  maybeCcda,
  type Origin,
  planCcda,
  planStoredDocument,
  X12_TYPE,
} from "./document_routing.ts";
import { CcdaError, parseCcda } from "../../codecs/ccda/mod.ts";
import type { RouteFormat } from "./subscriptions.ts";
import type { Shaped } from "./shaping.ts";
import type { FhirPayload } from "./fhir_routing.ts";

/** The content type HL7 v2 messages are stored with. */
export const HL7_TYPE = "application/hl7-v2";

/**
 * Messages larger than this (bytes as stored) are parsed, routed and translated on the planning
 * thread. Measured on the engine's thread (warm, two cores): a 32 KiB HL7 message took 5–25 ms to
 * parse, route and translate to JSON and FHIR (up to ~40 ms with a garbage collection), 64 KiB
 * 20–45 ms, and the work grows with the size (a 27.7 MB ORU took 10 s). Smaller messages, nearly
 * all of them, stay on the engine's thread, where they cost no thread hop.
 */
export const OFFLOAD_BYTES = 32 * 1024;

/** Whether planning a stored message reads its payload (HL7, X12, XML that may be a C-CDA). */
export function readsPayload(contentType: string): boolean {
  return contentType === HL7_TYPE || contentType === X12_TYPE || maybeCcda(contentType);
}

/** A stored message's plan, or why it cannot be routed (it is then dead-lettered FAILED). */
export type PayloadOutcome =
  | { readonly ok: true; readonly plan: Hl7Plan }
  | { readonly ok: false; readonly reason: string; readonly parseError?: Hl7ParseErrorCode };

/** What {@link planPayload} plans. */
export interface PayloadRequest {
  config: Config;
  integrationId: string;
  contentType: string;
  /** Read only when the content type needs it (see {@link readsPayload}). */
  payload(): Promise<Uint8Array>;
  /** Decodes HL7 bytes by MSH-18 (and the fallback charset). */
  decode(bytes: Uint8Array): string;
}

/**
 * Plans a stored message: HL7 v2 is parsed and routed (a message that cannot be parsed is
 * `cannot parse: …` with its parse error), anything else is planned as a document.
 */
export async function planPayload(request: PayloadRequest): Promise<PayloadOutcome> {
  const { config, integrationId, contentType } = request;
  if (contentType !== HL7_TYPE) {
    const planned = await planStoredDocument({
      config,
      integrationId,
      contentType,
      payload: request.payload,
      planFile: () => planFileRoutes({ config, integrationId, contentType }),
    });
    return planned.ok ? planned : { ok: false, reason: planned.reason };
  }
  const parsed = tryParseHl7(request.decode(await request.payload()));
  if (!parsed.ok) {
    return {
      ok: false,
      reason: `cannot parse: ${parsed.error.message}`,
      parseError: parsed.error.code,
    };
  }
  const integration = config.integrations.find((i) => i.id === integrationId);
  return {
    ok: true,
    plan: planHl7Routes({ config, integration, integrationId, message: parsed.message }),
  };
}

/** A planned route between threads: its destination by id, its subscription by index. */
export interface PortableRoute {
  destination: string;
  format: RouteFormat;
  subscription?: number;
  shaped?: Shaped;
  fhir?: FhirPayload;
}

/** A failed route between threads. */
export interface PortableFailure {
  destination: string;
  reason: string;
  fault?: Hl7Fault;
}

/** An {@link Hl7Plan} between threads: the JSON as the bytes the JSON routes are sent. */
export interface PortablePlan {
  dataModel?: string;
  eventType?: string;
  routes: PortableRoute[];
  jsonBytes?: Uint8Array;
  failures: PortableFailure[];
  problems: string[];
}

/** A {@link PayloadOutcome} between threads. */
export type PortableOutcome =
  | { readonly ok: true; readonly plan: PortablePlan }
  | { readonly ok: false; readonly reason: string; readonly parseError?: Hl7ParseErrorCode };

const encoder = new TextEncoder();

/**
 * Whether a plan's JSON is sent as it is by some route (one without modifiers): the inbound actor
 * then stores it serialised.
 */
export function sendsPlainJson(plan: Hl7Plan): boolean {
  return (plan.json !== undefined || plan.jsonBytes !== undefined) &&
    plan.routes.some((r) => r.format === "json" && !r.shaped);
}

/** `outcome` for the other thread (the JSON serialised exactly as the inbound actor does it). */
export function toPortable(config: Config, outcome: PayloadOutcome): PortableOutcome {
  if (!outcome.ok) return outcome;
  const { plan } = outcome;
  const routes = plan.routes.map((r): PortableRoute => {
    const index = r.subscription ? config.subscriptions.indexOf(r.subscription) : -1;
    return {
      destination: r.destination.id,
      format: r.format,
      ...(index >= 0 ? { subscription: index } : {}),
      ...(r.shaped ? { shaped: r.shaped } : {}),
      ...(r.fhir ? { fhir: r.fhir } : {}),
    };
  });
  const failures = plan.failures.map((f): PortableFailure => ({
    destination: f.destination.id,
    reason: f.reason,
    ...(f.fault ? { fault: f.fault } : {}),
  }));
  return {
    ok: true,
    plan: {
      ...(plan.dataModel !== undefined ? { dataModel: plan.dataModel } : {}),
      ...(plan.eventType !== undefined ? { eventType: plan.eventType } : {}),
      routes,
      ...(sendsPlainJson(plan)
        ? { jsonBytes: plan.jsonBytes ?? encoder.encode(JSON.stringify(plan.json)) }
        : {}),
      failures,
      problems: plan.problems,
    },
  };
}

/** The buffers of `outcome`'s payloads, each once: moved to the other thread, not copied. */
export function transferables(outcome: PortableOutcome): ArrayBuffer[] {
  if (!outcome.ok) return [];
  const buffers = new Set<ArrayBuffer>();
  const add = (bytes: Uint8Array | undefined) => {
    if (bytes && bytes.buffer instanceof ArrayBuffer) buffers.add(bytes.buffer);
  };
  add(outcome.plan.jsonBytes);
  for (const r of outcome.plan.routes) {
    add(r.shaped?.bytes);
    add(r.fhir?.bytes);
  }
  return [...buffers];
}

/** `outcome` back on this thread, with `config`'s destinations and subscriptions (its planner's). */
export function fromPortable(config: Config, outcome: PortableOutcome): PayloadOutcome {
  if (!outcome.ok) return outcome;
  const { plan } = outcome;
  const byId = new Map<string, DestinationConfig>(config.destinations.map((d) => [d.id, d]));
  const destination = (id: string) => {
    const found = byId.get(id);
    if (!found) throw new Error(`the planning thread named an unknown destination ${id}`);
    return found;
  };
  const routes = plan.routes.map((r): PlannedRoute => {
    const subscription = r.subscription === undefined
      ? undefined
      : config.subscriptions[r.subscription];
    return {
      destination: destination(r.destination),
      format: r.format,
      ...(subscription ? { subscription } : {}),
      ...(r.shaped ? { shaped: r.shaped } : {}),
      ...(r.fhir ? { fhir: r.fhir } : {}),
    };
  });
  const failures = plan.failures.map((f): FailedRoute => ({
    destination: destination(f.destination),
    reason: f.reason,
    ...(f.fault ? { fault: f.fault } : {}),
  }));
  return {
    ok: true,
    plan: {
      ...(plan.dataModel !== undefined ? { dataModel: plan.dataModel } : {}),
      ...(plan.eventType !== undefined ? { eventType: plan.eventType } : {}),
      routes,
      ...(plan.jsonBytes ? { jsonBytes: plan.jsonBytes } : {}),
      failures,
      problems: plan.problems,
    },
  };
}

/** A C-CDA posted by an API source: its plan, type and id; or why it is refused (`400`). */
export type CcdaOutcome =
  | { ok: true; plan: Hl7Plan; documentType: string; documentId?: string }
  | { ok: false; refusal: string };

/** A {@link CcdaOutcome} between threads. */
export type PortableCcda =
  | { ok: true; plan: PortablePlan; documentType: string; documentId?: string }
  | { ok: false; refusal: string };

/** Reads and plans a C-CDA posted by `origin` (`POST /endpoint`, see `api_documents.ts`). */
export function planPostedCcda(config: Config, origin: Origin, bytes: Uint8Array): CcdaOutcome {
  let summary;
  try {
    summary = parseCcda(new TextDecoder().decode(bytes));
  } catch (error) {
    if (error instanceof CcdaError) {
      return { ok: false, refusal: `the body is not a C-CDA: ${error.message}` };
    }
    throw error;
  }
  const id = summary.Meta.DocumentId?.ID;
  return {
    ok: true,
    plan: planCcda(config, origin, summary),
    documentType: summary.Meta.DocumentType,
    ...(id ? { documentId: id } : {}),
  };
}

/** `outcome` for the other thread, or back from it (with `config`'s destinations). */
export function ccdaToPortable(config: Config, outcome: CcdaOutcome): PortableCcda {
  if (!outcome.ok) return outcome;
  const portable = toPortable(config, { ok: true, plan: outcome.plan });
  return { ...outcome, plan: (portable as { plan: PortablePlan }).plan };
}

/** A {@link PortableCcda} back on this thread, with `config`'s destinations. */
export function ccdaFromPortable(config: Config, outcome: PortableCcda): CcdaOutcome {
  if (!outcome.ok) return outcome;
  const back = fromPortable(config, { ok: true, plan: outcome.plan });
  return { ...outcome, plan: (back as { plan: Hl7Plan }).plan };
}
