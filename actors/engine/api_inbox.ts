/**
 * The engine's side of `POST /endpoint`: a data-model JSON message from an API source is
 * validated, routed by the source's subscriptions (or to the `Meta.Destinations` it names, which
 * must be among them), translated to HL7 v2 for MLLP destinations, and stored with its routing in
 * one commit — so the answer can name one log per destination and nothing is half-stored.
 * @module
 */

import {
  type DataModelMessage,
  DataModelValidationError,
  jsonToHl7,
  validateDataModel,
} from "../../codecs/datamodel/mod.ts";
import type { Config, DestinationConfig, SourceConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import type { Delivery, Store } from "../store/store.ts";
import { StoreUnavailableError } from "../store/health.ts";
import type {
  ApiAcceptResult,
  ApiDocumentRequest,
  ApiDocumentResult,
  ApiInbox,
  ApiRequest,
} from "../ports.ts";
import { readDestinations, sourceOf } from "./api_checks.ts";
import { defaultFormat } from "./hl7_routing.ts";
import { destinationActorId } from "./identities.ts";
import { selectRoutes } from "./subscriptions.ts";
import { fhirKey, fhirPayload } from "./fhir_routing.ts";
import { errorMessage } from "../runtime/errors.ts";
import { acceptApiDocument } from "./api_documents.ts";
import { acceptApiVxu } from "./api_vxu.ts";
import { prepareShaped, shapeApiRoutes, type ShapedRoute } from "./api_shaping.ts";
import { passOn, type PassOnTargets } from "./pass_on.ts";
import { Translations } from "./translations.ts";
import type { PlanThreads } from "./plan_threads.ts";

/** What the API inbox needs; routed entries go to their actors through `handOver`/`notify`. */
export interface EngineApiInboxOptions extends PassOnTargets {
  config: Config;
  store: Store;
  log: Logger;
  /** Where large C-CDA are read and planned, off the engine's thread (api_documents.ts). */
  threads?: PlanThreads;
}

const encoder = new TextEncoder();

/** See the module doc. */
export class EngineApiInbox implements ApiInbox {
  readonly #options: EngineApiInboxOptions;
  #byId: { of: Config; map: Map<string, DestinationConfig> } | undefined;

  /** The running config's destinations by id (rebuilt when a reload swaps the config). */
  get #destinations(): Map<string, DestinationConfig> {
    const config = this.#options.config;
    if (this.#byId?.of !== config) {
      this.#byId = { of: config, map: new Map(config.destinations.map((d) => [d.id, d])) };
    }
    return this.#byId.map;
  }

  /** An inbox for the sources of `options.config`. */
  constructor(options: EngineApiInboxOptions) {
    this.#options = options;
  }

  /** Checks, routes and stores a FHIR VXU^V04 bundle (api_vxu.ts). */
  acceptFhirVxu(request: ApiRequest): Promise<ApiAcceptResult> {
    return acceptApiVxu(this.#options, this.#destinations, request);
  }

  /** Reads, routes and stores an X12 or C-CDA body (api_documents.ts). */
  acceptDocument(request: ApiDocumentRequest): Promise<ApiDocumentResult> {
    return acceptApiDocument(this.#options, request);
  }

  /** Validates, routes and stores one message; see the module doc. */
  async accept(request: ApiRequest): Promise<ApiAcceptResult> {
    const { config, store, log } = this.#options;
    const found = sourceOf(config, request);
    if (!found.ok) return found;
    const source = found.source;
    const checked = validateDataModel(request.json, {
      maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
    });
    if (!checked.ok) {
      const tooLarge = checked.issues.find((i) => /over the limit/.test(i.rule));
      if (tooLarge) {
        return { ok: false, status: 413, error: `${tooLarge.path}: ${tooLarge.rule}` };
      }
      return {
        ok: false,
        status: 400,
        error: `the message does not match the ${describe(request.json)} schema`,
        problems: checked.issues.map((i) => ({ path: i.path, rule: i.rule })),
      };
    }
    const json = request.json as { Meta: Record<string, unknown> };
    const read = readDestinations(json.Meta.Destinations, config.destinations, source.environment);
    if (!read.ok) {
      return read.status === 400
        ? {
          ok: false,
          status: 400,
          error: read.error,
          problems: [{ path: read.path, rule: read.error }],
        }
        : { ok: false, status: 404, error: read.error };
    }
    const named = read.matches?.map((m) => m.id);
    if (read.notes.length > 0) {
      log.info("api.destination-by-name", { source: source.id, notes: read.notes });
    }
    for (const id of named ?? []) {
      const d = this.#destinations.get(id)!;
      if (d.environment !== source.environment) {
        return {
          ok: false,
          status: 403,
          error: `destination ${id} is in environment ${d.environment}, not ${source.environment}`,
        };
      }
    }
    let routes = selectRoutes(
      config.subscriptions,
      {
        from: { source: source.id },
        dataModel: checked.dataModel,
        eventType: checked.eventType,
        json: request.json,
      },
      (id) => defaultFormat(this.#destinations.get(id)),
    );
    if (named) {
      const unsubscribed = named.filter((id) => !routes.some((r) => r.destinationId === id));
      if (unsubscribed.length > 0) {
        return {
          ok: false,
          status: 403,
          error: `no subscription of source ${source.id} sends ${checked.dataModel}.` +
            `${checked.eventType} to ${unsubscribed.join(", ")}`,
        };
      }
      routes = routes.filter((r) => named.includes(r.destinationId));
    }

    const messageId = store.newId();
    // Stored by the commit that stores the message and its routes (none without them).
    const translations = new Translations(store, {
      id: messageId,
      sender: { kind: "source", id: source.id },
      kind: `${checked.dataModel}.${checked.eventType}`,
    });
    // One HL7 translation per distinct MSH-3..6 (destinations may name themselves differently).
    const hl7Ids = new Map<string, string>();
    // One FHIR bundle per distinct destination setting (message or transaction, systems).
    const fhirIds = new Map<string, string>();
    // Routes with modifiers (JSON) or HL7 edits get a payload of their own (api_shaping.ts).
    let shaped: Map<string, ShapedRoute>;
    try {
      const planned = shapeApiRoutes(
        config,
        routes,
        this.#destinations,
        request.json,
        (d) =>
          jsonToHl7(request.json, {
            timeZone: "UTC",
            maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
            validated: checked,
            ...mshOptions(json.Meta, source, d),
          }),
      );
      if (!planned.ok) {
        log.warn("api.shaping-failed", { source: source.id, reason: planned.reason });
        return { ok: false, status: 422, error: planned.reason };
      }
      shaped = await prepareShaped(translations, planned.shaped);
      for (const r of routes) {
        if (r.format !== "fhir") continue;
        const d = this.#destinations.get(r.destinationId)!;
        if (fhirIds.has(fhirKey(d))) continue;
        const made = fhirPayload(request.json as DataModelMessage, d);
        if (!made.ok) {
          return {
            ok: false,
            status: 400,
            error: `destination ${d.id} wants FHIR: ${made.reason}`,
            problems: [{ path: "Meta.EventType", rule: made.reason }],
          };
        }
        const { bytes, contentType } = made.payload;
        fhirIds.set(made.payload.key, await translations.add(bytes, contentType));
      }
      for (const r of routes) {
        if (r.format !== "hl7v2" || shaped.has(r.destinationId)) continue;
        const header = mshOptions(json.Meta, source, this.#destinations.get(r.destinationId));
        const key = JSON.stringify(header);
        if (hl7Ids.has(key)) continue;
        const hl7 = jsonToHl7(request.json, {
          timeZone: "UTC",
          maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
          validated: checked,
          ...header,
        });
        hl7Ids.set(key, await translations.add(encoder.encode(hl7), "application/hl7-v2"));
      }
    } catch (error) {
      if (error instanceof DataModelValidationError) {
        return {
          ok: false,
          status: 400,
          error: "the message cannot be written as HL7 v2",
          problems: error.issues.map((i) => ({ path: i.path, rule: i.rule })),
        };
      }
      return storeFailure(log, request, error);
    }
    const deliveries: Delivery[] = [];
    for (const r of routes) {
      const d = this.#destinations.get(r.destinationId)!;
      const hl7Id = r.format === "hl7v2"
        ? hl7Ids.get(JSON.stringify(mshOptions(json.Meta, source, d)))
        : r.format === "fhir"
        ? fhirIds.get(fhirKey(d))
        : undefined;
      const own = shaped.get(d.id);
      const log = {
        sourceId: source.id,
        environment: source.environment,
        dataModel: checked.dataModel,
        eventType: checked.eventType,
        // What ran, the paths it changed and the payload it made (never values).
        ...(own ? { shaping: own.log } : {}),
      };
      deliveries.push({
        queue: destinationActorId(d),
        destinationId: d.id,
        messageId: own?.messageId ?? hl7Id ?? messageId,
        originalId: messageId,
        log,
      });
    }
    try {
      const result = await store.accept({
        queue: `api:${source.id}`,
        messageId,
        origin: { kind: "source", id: source.id, peer: request.peerIp },
        payload: request.bytes,
        contentType: "application/json",
        messageType: `${checked.dataModel}.${checked.eventType}`,
        log: {
          type: "RECEIVE",
          sourceId: source.id,
          environment: source.environment,
          // Said in the sender's terms: it asked for no destination (subscriptions or not).
          ...(named?.length === 0
            ? { reason: "Meta.Destinations is empty: the sender addressed no destination" }
            : {}),
        },
        deliveries,
        derived: translations.prepared,
      });
      if (result.status !== "stored") throw new Error("unexpected duplicate");
      passOn(result.routed, deliveries, this.#options);
      log.debug("api.accepted", {
        source: source.id,
        messageId,
        to: deliveries.map((d) => d.destinationId),
      });
      // Redox's Logs[] name a log and its attempt: here the delivery's first attempt.
      const logs = (result.sendLogIds ?? []).map((ID) => ({ ID, AttemptID: firstAttemptId(ID) }));
      return {
        ok: true,
        body: {
          Meta: {
            ...json.Meta,
            Source: { ID: source.id, ...(source.name ? { Name: source.name } : {}) },
            Destinations: deliveries.map((d) => {
              const dest = this.#destinations.get(d.destinationId);
              return { ID: d.destinationId, ...(dest?.name ? { Name: dest.name } : {}) };
            }),
            Logs: logs,
            Message: { ID: messageId },
            Errors: read.notes.map((Text) => ({ Text, Type: "warning", Module: "routing" })),
          },
        },
      };
    } catch (error) {
      return storeFailure(log, request, error);
    }
  }
}

/** The id of a log's first delivery attempt, as `Meta.Logs[].AttemptID` names it. */
export function firstAttemptId(logId: string): string {
  return `${logId}-1`;
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

/** The answer when storing failed: 503 with a retry, logged (debug when the store is down). */
export function storeFailure(
  log: Logger,
  request: Pick<ApiRequest, "sourceId">,
  error: unknown,
): ApiAcceptResult {
  // A full disk fails every message: the store's health warns once per interval.
  const level = error instanceof StoreUnavailableError ? "debug" : "error";
  log[level]("api.store-failed", { source: request.sourceId, error });
  return {
    ok: false,
    status: 503,
    error: `could not store the message: ${errorMessage(error)}`,
    retryAfterSeconds: 5,
  };
}

function describe(json: unknown): string {
  const meta = json && typeof json === "object"
    ? (json as Record<string, unknown>).Meta as Record<string, unknown> | undefined
    : undefined;
  const model = typeof meta?.DataModel === "string" ? meta.DataModel : "data model";
  return typeof meta?.EventType === "string" ? `${model}.${meta.EventType}` : model;
}
