/**
 * What every exchange of a `POST /query` shares, whichever destination answers it: the query as
 * checked, the `Meta` of an answer the engine writes itself, the answer to a query that timed out,
 * and the record of the exchange once it is over (its REQUEST and RESPOND logs).
 * @module
 */

import {
  QUERY_EVENT,
  QUERY_MODEL,
  RESPONSE_EVENT,
  validateQuery,
} from "../../codecs/datamodel/mod.ts";
import type { Config, DestinationConfig, SourceConfig } from "../config/mod.ts";
import type { HttpsDestinations } from "../https_out/mod.ts";
import type { MllpConnector } from "../mllp_out/connector.ts";
import type { Logger } from "../runtime/log.ts";
import type { QueryPart, Store } from "../store/store.ts";
import type { ApiQueryResult, ApiRequest } from "../ports.ts";

/** What the query side needs. */
export interface ApiQueryOptions {
  config: Config;
  store: Store;
  log: Logger;
  /** HTTPS destinations; absent when the engine has no HTTP sender. */
  https?: HttpsDestinations;
  mllpConnector: MllpConnector;
}

/** A `Meta.Errors[]` entry for what the destination said or did. */
export interface QueryError {
  Text: string;
  Type: string;
  Module: string;
}

/** How one exchange went, for the logs. */
export interface Outcome {
  status: "SUCCEEDED" | "FAILED";
  reason: string;
  sent?: QueryPart;
  response?: QueryPart;
}

/** A query as checked, on its way to its one destination. */
export interface Query {
  request: ApiRequest;
  source: SourceConfig;
  destination: DestinationConfig;
  meta: Record<string, unknown>;
  dataModel: string;
  eventType: string;
  started: number;
  /** The request's media type, when not JSON (an X12 query). */
  contentType?: string;
}

/** Encodes what is sent and answered for the logs. */
export const encoder = new TextEncoder();
/** Characters of a destination's answer quoted in an error. */
export const SNIPPET_CHARS = 256;

/** `Meta` of an answer the engine writes itself. */
export function answerMeta(q: Query, eventType: string): Record<string, unknown> {
  const { source, destination } = q;
  return {
    DataModel: q.dataModel,
    EventType: eventType,
    ...(typeof q.meta.Test === "boolean" ? { Test: q.meta.Test } : {}),
    Source: { ID: source.id, ...(source.name ? { Name: source.name } : {}) },
    Destinations: [{
      ID: destination.id,
      ...(destination.name ? { Name: destination.name } : {}),
    }],
  };
}

/**
 * The query's own problems (the data model's rules for a query), as the 400 that refuses it
 * before anything is sent to `what` ("MLLP destination d1"), with `note` after the kind of query
 * it answers; undefined when there are none.
 */
export function invalidQuery(q: Query, what: string, note = ""): ApiQueryResult | undefined {
  const issues = validateQuery(q.request.json);
  if (issues.length === 0) return undefined;
  return {
    ok: false,
    status: 400,
    error: `${what} answers ${QUERY_MODEL}.${QUERY_EVENT} queries${note}; this one cannot be sent`,
    problems: issues.map((i) => ({ path: i.path, rule: i.rule })),
  };
}

/** The API's answer to a query its destination did not answer in time: `504`. */
export function timedOut(options: ApiQueryOptions, q: Query): ApiQueryResult {
  const seconds = options.config.limits.queryTimeoutSeconds;
  return {
    ok: false,
    status: 504,
    error: `destination ${q.destination.id} did not answer within ${seconds} s`,
  };
}

/** Writes the REQUEST and RESPOND logs; their ids, or undefined when KV failed (logged). */
export async function recordExchange(
  options: ApiQueryOptions,
  q: Query,
  outcome: Outcome,
): Promise<string[] | undefined> {
  const { store, log } = options;
  const at = Date.now();
  try {
    const ids = await store.recordQuery({
      origin: { kind: "source", id: q.source.id, peer: q.request.peerIp },
      request: {
        payload: q.request.bytes,
        contentType: q.contentType ?? "application/json",
        messageType: `${q.dataModel}.${q.eventType}`,
      },
      ...(outcome.sent ? { sent: outcome.sent } : {}),
      ...(outcome.response ? { response: outcome.response } : {}),
      log: {
        environment: q.source.environment,
        sourceId: q.source.id,
        destinationId: q.destination.id,
        dataModel: q.dataModel,
        eventType: q.eventType,
      },
      status: outcome.status,
      reason: outcome.reason,
      attempt: {
        at: q.started,
        outcome: outcome.status,
        reason: outcome.reason,
        durationMs: at - q.started,
      },
    });
    const level = outcome.status === "SUCCEEDED" ? "info" : "warn";
    log[level]("query.done", {
      source: q.source.id,
      destination: q.destination.id,
      outcome: outcome.status,
      reason: outcome.reason,
      ms: at - q.started,
    });
    return ids.responseLogId ? [ids.requestLogId, ids.responseLogId] : [ids.requestLogId];
  } catch (error) {
    // The client still gets its answer: the query itself went through.
    log.error("query.record-failed", { source: q.source.id, error });
    return undefined;
  }
}

/** The answer's event type by the hosted platforms' naming: `Query` → `QueryResponse`, … */
export function responseEvent(dataModel: string, eventType: string): string {
  if (dataModel === QUERY_MODEL && eventType === QUERY_EVENT) return RESPONSE_EVENT;
  return `${eventType}Response`;
}

/** Whether `v` is a JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `text` parsed as JSON, or `{ok: false}`. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
