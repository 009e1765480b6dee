/**
 * The engine's side of `POST /endpoint`: a data-model JSON message from an API source is
 * validated, routed by the source's subscriptions (or to the `Meta.Destinations` it names, which
 * must be among them), translated to HL7 v2 for MLLP destinations, and stored with its routing in
 * one commit — so the answer can name one log per destination and nothing is half-stored.
 * @module
 */

import {
  DataModelValidationError,
  jsonToHl7,
  validateDataModel,
} from "../../codecs/datamodel/mod.ts";
import type { Config, DestinationConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import type { Delivery, Store } from "../store/store.ts";
import { StoreUnavailableError } from "../store/health.ts";
import type { ApiAcceptResult, ApiInbox, ApiRequest } from "../ports.ts";
import { readDestinations, sourceOf } from "./api_checks.ts";
import { defaultFormat } from "./hl7_routing.ts";
import { destinationActorId } from "./identities.ts";
import { selectRoutes } from "./subscriptions.ts";
import { errorMessage } from "../runtime/errors.ts";

/** What the API inbox needs. */
export interface EngineApiInboxOptions {
  config: Config;
  store: Store;
  log: Logger;
  /** Wakes a destination actor. */
  notify(actorId: string): void;
}

const encoder = new TextEncoder();

/** See the module doc. */
export class EngineApiInbox implements ApiInbox {
  readonly #o: EngineApiInboxOptions;
  readonly #destinations: Map<string, DestinationConfig>;

  /** An inbox for the sources of `options.config`. */
  constructor(options: EngineApiInboxOptions) {
    this.#o = options;
    this.#destinations = new Map(options.config.destinations.map((d) => [d.id, d]));
  }

  /** Validates, routes and stores one message; see the module doc. */
  async accept(request: ApiRequest): Promise<ApiAcceptResult> {
    const { config, store, log } = this.#o;
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
    const named = readDestinations(json.Meta.Destinations);
    if (typeof named === "string") {
      return {
        ok: false,
        status: 400,
        error: named,
        problems: [{ path: "Meta.Destinations", rule: named }],
      };
    }
    for (const id of named ?? []) {
      const d = this.#destinations.get(id);
      if (!d) return { ok: false, status: 404, error: `no destination ${id}` };
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
    let hl7Id: string | undefined;
    try {
      if (routes.some((r) => r.format === "hl7v2")) {
        const hl7 = jsonToHl7(request.json, {
          timeZone: "UTC",
          maxEmbeddedFileBytes: config.limits.maxEmbeddedFileBytes,
        });
        hl7Id = await store.putDerived(messageId, encoder.encode(hl7), "application/hl7-v2");
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
      deliveries.push({
        queue: destinationActorId(d),
        destinationId: d.id,
        messageId: r.format === "hl7v2" && hl7Id ? hl7Id : messageId,
        originalId: messageId,
        log: {
          sourceId: source.id,
          environment: source.environment,
          dataModel: checked.dataModel,
          eventType: checked.eventType,
        },
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
        log: { type: "RECEIVE", sourceId: source.id, environment: source.environment },
        deliveries,
      });
      if (result.status !== "stored") throw new Error("unexpected duplicate");
      for (const d of deliveries) this.#o.notify(d.queue);
      log.debug("api.accepted", {
        source: source.id,
        messageId,
        to: deliveries.map((d) => d.destinationId),
      });
      const logs = (result.sendLogIds ?? []).map((ID) => ({ ID }));
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
            Errors: [],
          },
        },
      };
    } catch (error) {
      return storeFailure(log, request, error);
    }
  }
}

function storeFailure(log: Logger, request: ApiRequest, error: unknown): ApiAcceptResult {
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
