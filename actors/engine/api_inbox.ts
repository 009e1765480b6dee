/**
 * The engine's side of `POST /endpoint`: a data-model JSON message from an API source is
 * validated, routed by the source's subscriptions (or to the `Meta.Destinations` it names, which
 * must be among them), translated to HL7 v2 for MLLP destinations, and stored with its routing in
 * one commit — so the answer can name one log per destination and nothing is half-stored.
 * @module
 */

import type { Config, DestinationConfig } from "../config/mod.ts";
import { routeBegins } from "./config_holder.ts";
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
import { destinationActorId } from "./identities.ts";
import { fhirKey } from "./fhir_routing.ts";
import { errorMessage } from "../runtime/errors.ts";
import { acceptApiDocument } from "./api_documents.ts";
import { acceptApiVxu } from "./api_vxu.ts";
import { prepareShaped, type ShapedRoute } from "./api_shaping.ts";
import { passOn, type PassOnTargets } from "./pass_on.ts";
import { Translations } from "./translations.ts";
import { type ApiJsonOutcome, mshOptions, planApiJson } from "./api_json_plan.ts";
import { acceptLargeJson, type LargeJsonRequest, type LargeJsonResult } from "./api_large_json.ts";
import { acceptLargeFhir, type LargeFhirRequest, type LargeFhirResult } from "./api_large_fhir.ts";
import type { PlanThreads } from "./plan_threads.ts";

/** What the API inbox needs; routed entries go to their actors through `handOver`/`notify`. */
export interface EngineApiInboxOptions extends PassOnTargets {
  config: Config;
  store: Store;
  log: Logger;
  /**
   * Where large C-CDA (api_documents.ts), data-model JSON (api_large_json.ts) and FHIR bundles
   * (api_large_fhir.ts) are read and planned, off the engine's thread.
   */
  threads?: PlanThreads;
}

/** See the module doc. */
export class EngineApiInbox implements ApiInbox {
  readonly #options: EngineApiInboxOptions;
  #byId: { of: Config; map: Map<string, DestinationConfig> } | undefined;

  /** The running config's destinations by id (rebuilt when a reload swaps the config). */
  get #destinations(): Map<string, DestinationConfig> {
    return this.#destinationsOf(this.#options.config);
  }

  /** `config`'s destinations by id (kept for the running config). */
  #destinationsOf(config: Config): Map<string, DestinationConfig> {
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
    return this.#routing(() => acceptApiVxu(this.#options, this.#destinations, request));
  }

  /** Reads, routes and stores an X12 or C-CDA body (api_documents.ts). */
  acceptDocument(request: ApiDocumentRequest): Promise<ApiDocumentResult> {
    return this.#routing(() => acceptApiDocument(this.#options, request));
  }

  /** Validates, routes and stores one message; see the module doc. */
  async accept(request: ApiRequest): Promise<ApiAcceptResult> {
    const config = this.#options.config;
    const inProgress = routeBegins(config);
    try {
      let thrown: unknown;
      const outcome = planApiJson(config, request, request.json, {
        destinations: this.#destinationsOf(config),
        thrown: (error) => thrown = error,
      });
      return await this.#store(config, request, outcome, thrown);
    } finally {
      inProgress.end();
    }
  }

  /**
   * `route()`, counted as a route under the running config until it settles: a reload moving a
   * destination waits for it (config_holder.ts, queue_moves.ts). The config `route` reads is
   * this one or a later one, so the count is never short.
   */
  async #routing<T>(route: () => Promise<T>): Promise<T> {
    const inProgress = routeBegins(this.#options.config);
    try {
      return await route();
    } finally {
      inProgress.end();
    }
  }

  /**
   * JSON bodies larger than this (bytes) are parsed and planned on the planning thread
   * ({@link acceptLargeJson}); Infinity without one.
   */
  get largeJsonBytes(): number {
    return this.#options.threads?.offloadBytes ?? Infinity;
  }

  /** Parses, validates, routes and stores a large JSON body off the engine's thread (api_large_json.ts). */
  acceptLargeJson(request: LargeJsonRequest): Promise<LargeJsonResult> {
    return this.#routing(() =>
      acceptLargeJson(
        this.#options,
        request,
        (config, outcome) => this.#store(config, request, outcome, undefined),
      )
    );
  }

  /** Parses, validates, converts and stores a large FHIR bundle off the engine's thread (api_large_fhir.ts). */
  acceptLargeFhir(request: LargeFhirRequest): Promise<LargeFhirResult> {
    return this.#routing(() =>
      acceptLargeFhir(
        this.#options,
        request,
        (config, outcome, bytes) => this.#store(config, { ...request, bytes }, outcome, undefined),
      )
    );
  }

  /** Stores a planned message (api_json_plan.ts) with its routes in one commit; answers a refusal. */
  async #store(
    config: Config,
    request: Pick<ApiRequest, "sourceId" | "peerIp" | "bytes">,
    outcome: ApiJsonOutcome,
    thrown: unknown,
  ): Promise<ApiAcceptResult> {
    const { store, log } = this.#options;
    for (const line of outcome.logs) log[line.level](line.event, line.fields);
    if (outcome.kind === "refused") return outcome.result;
    if (outcome.kind === "threw") {
      return storeFailure(log, request, thrown ?? new Error(outcome.error));
    }
    const plan = outcome.plan;
    const destinations = this.#destinationsOf(config);
    const source = config.sources.find((s) => s.id === plan.sourceId)!;
    const messageId = store.newId();
    const kind = `${plan.dataModel}.${plan.eventType}`;
    // Stored by the commit that stores the message and its routes (none without them).
    const translations = new Translations(store, {
      id: messageId,
      sender: { kind: "source", id: source.id },
      kind,
    });
    // One HL7 translation per distinct MSH-3..6 (destinations may name themselves differently).
    const hl7Ids = new Map<string, string>();
    // One FHIR bundle per distinct destination setting (message or transaction, systems).
    const fhirIds = new Map<string, string>();
    // Routes with modifiers (JSON) or HL7 edits get a payload of their own (api_shaping.ts).
    let shaped: Map<string, ShapedRoute>;
    try {
      shaped = await prepareShaped(translations, new Map(plan.shaped));
      for (const [key, { bytes, contentType }] of plan.fhir) {
        fhirIds.set(key, await translations.add(bytes, contentType));
      }
      for (const [key, bytes] of plan.hl7) {
        hl7Ids.set(key, await translations.add(bytes, "application/hl7-v2"));
      }
    } catch (error) {
      return storeFailure(log, request, error);
    }
    const deliveries: Delivery[] = [];
    for (const r of plan.routes) {
      const d = destinations.get(r.destinationId)!;
      const hl7Id = r.format === "hl7v2"
        ? hl7Ids.get(JSON.stringify(mshOptions(plan.meta, source, d)))
        : r.format === "fhir"
        ? fhirIds.get(fhirKey(d))
        : undefined;
      const own = shaped.get(d.id);
      const log = {
        sourceId: source.id,
        environment: source.environment,
        dataModel: plan.dataModel,
        eventType: plan.eventType,
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
        messageType: kind,
        log: {
          type: "RECEIVE",
          sourceId: source.id,
          environment: source.environment,
          // Said in the sender's terms: it asked for no destination (subscriptions or not).
          ...(plan.named?.length === 0
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
            ...plan.meta,
            Source: { ID: source.id, ...(source.name ? { Name: source.name } : {}) },
            Destinations: deliveries.map((d) => {
              const dest = destinations.get(d.destinationId);
              return { ID: d.destinationId, ...(dest?.name ? { Name: dest.name } : {}) };
            }),
            Logs: logs,
            Message: { ID: messageId },
            Errors: plan.notes.map((Text) => ({ Text, Type: "warning", Module: "routing" })),
          },
        },
      };
    } catch (error) {
      return storeFailure(log, request, error);
    }
  }
}

export { mshOptions };

/** The id of a log's first delivery attempt, as `Meta.Logs[].AttemptID` names it. */
export function firstAttemptId(logId: string): string {
  return `${logId}-1`;
}

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
