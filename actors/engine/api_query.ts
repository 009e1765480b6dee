/**
 * The engine's side of `POST /query`: a synchronous request from an API source to exactly one
 * destination (named in `Meta.Destinations` and subscribed to), answered within
 * `limits.queryTimeoutSeconds` or `504`. Queries bypass the destination's FIFO queue: the client
 * is waiting, and a query changes nothing at the other end.
 *
 * - HTTPS destination: the JSON is `POST`ed as is (with the destination's credentials); a `2xx`
 *   answer's body is returned as it came. Any other status is a `200` whose `Meta.Errors[]` says
 *   what the destination answered.
 * - FHIR server (an HTTPS destination with `https.fhir`): a `PatientSearch.Query` becomes
 *   `GET <base>/Patient?identifier=…&family=…` (codecs/fhir/search.ts) with the destination's
 *   credentials; the `searchset` Bundle comes back as a `PatientSearch.Response`, an
 *   OperationOutcome or any other status in its `Meta.Errors[]`. A client that asked for FHIR
 *   (`ApiRequest.fhir`) gets a `searchset` Bundle instead (codecs/fhir/search.ts
 *   `searchsetAnswer`: the server's resources as they came; `Bundle.id` the REQUEST log's), and a `502` carrying the server's
 *   OperationOutcome issues for an error status or an answer that is no searchset. Any other
 *   destination answers such a client `406`: FHIR answers come only from FHIR servers.
 * - MLLP destination: a `PatientSearch.Query` becomes `QBP^Q22` or `QRY^A19` (per destination)
 *   on a connection of its own; the `RSP^K22` / `ADR^A19` comes back as a
 *   `PatientSearch.Response`, a refusal (MSA `AE`/`AR`, QAK `AE`/`AR`) in its `Meta.Errors[]`.
 *
 * Every query is recorded once it is over: a REQUEST log (with its one attempt) and, when an
 * answer came, a RESPOND log, both listed under the request in the admin endpoint.
 * @module
 */

import {
  hl7ToQueryResponse,
  QUERY_EVENT,
  QUERY_MODEL,
  queryToHl7,
  RESPONSE_EVENT,
  validateQuery,
} from "../../codecs/datamodel/mod.ts";
import { newControlId, tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import {
  FhirError,
  outcomeIssuesOf,
  patientSearchParams,
  searchsetAnswer,
  searchsetToQueryResponse,
} from "../../codecs/fhir/mod.ts";
import type { Config, DestinationConfig, SourceConfig } from "../config/mod.ts";
import {
  describeResponse,
  type HttpResponse,
  type HttpsDestinations,
  type HttpsQueryResult,
} from "../https_out/mod.ts";
import { describeFhirFailure } from "../https_out/fhir_answer.ts";
import { redact } from "../https_out/redact.ts";
import type { MllpConnector } from "../mllp_out/connector.ts";
import { mllpQuery } from "../mllp_out/query.ts";
import { mllpTarget } from "../mllp_out/target.ts";
import type { Logger } from "../runtime/log.ts";
import type { QueryPart, Store } from "../store/store.ts";
import { readDestinations, sourceOf } from "./api_checks.ts";
import type { ApiDocumentRequest, ApiQuerier, ApiQueryResult, ApiRequest } from "../ports.ts";
import { planX12Query } from "./x12_query.ts";
import { decodeHl7Bytes } from "../../codecs/hl7v2/mod.ts";
import { selectRoutes } from "./subscriptions.ts";

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
interface QueryError {
  Text: string;
  Type: string;
  Module: string;
}

/** How one exchange went, for the logs. */
interface Outcome {
  status: "SUCCEEDED" | "FAILED";
  reason: string;
  sent?: QueryPart;
  response?: QueryPart;
}

interface Query {
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

const encoder = new TextEncoder();
/** The signal of a query nobody stops early: only its timeout ends it. */
const NEVER = new AbortController().signal;
/** Characters of a destination's answer quoted in an error. */
const SNIPPET_CHARS = 256;

/** See the module doc. */
export class ApiQuery implements ApiQuerier {
  readonly #options: ApiQueryOptions;
  #byId: { of: Config; map: Map<string, DestinationConfig> } | undefined;

  /** The running config's destinations by id (rebuilt when a reload swaps the config). */
  get #destinations(): Map<string, DestinationConfig> {
    const config = this.#options.config;
    if (this.#byId?.of !== config) {
      this.#byId = { of: config, map: new Map(config.destinations.map((d) => [d.id, d])) };
    }
    return this.#byId.map;
  }

  /** Queries for the sources and destinations of `options.config`. */
  constructor(options: ApiQueryOptions) {
    this.#options = options;
  }

  /** Checks, sends and answers one query; see the module doc. */
  async query(request: ApiRequest, signal = NEVER): Promise<ApiQueryResult> {
    const found = sourceOf(this.#options.config, request);
    if (!found.ok) return found;
    const source = found.source;
    const json = request.json;
    const meta = isObject(json) && isObject(json.Meta) ? json.Meta : undefined;
    if (!meta) {
      return invalid("the query has no Meta", isObject(json) ? "Meta" : "", "required (an object)");
    }
    for (const k of ["DataModel", "EventType"] as const) {
      if (typeof meta[k] !== "string" || meta[k] === "") {
        return invalid(`Meta.${k} is missing`, `Meta.${k}`, "required (a string)");
      }
    }
    const dataModel = meta.DataModel as string, eventType = meta.EventType as string;
    const read = readDestinations(
      meta.Destinations,
      this.#options.config.destinations,
      source.environment,
    );
    if (!read.ok && read.status === 400) return invalid(read.error, read.path, read.error);
    if (!read.ok) return { ok: false, status: 404, error: read.error };
    const named = read.matches;
    if (named === undefined || named.length !== 1) {
      const rule = `a query names exactly one destination (found ${named?.length ?? 0})`;
      return invalid(rule, "Meta.Destinations", rule);
    }
    if (read.notes.length > 0) {
      this.#options.log.info("query.destination-by-name", { source: source.id, notes: read.notes });
    }
    const destination = this.#destinations.get(named[0]!.id)!;
    if (destination.environment !== source.environment) {
      return {
        ok: false,
        status: 403,
        error: `destination ${destination.id} is in environment ${destination.environment}, ` +
          `not ${source.environment}`,
      };
    }
    const routes = selectRoutes(
      this.#options.config.subscriptions,
      { from: { source: source.id }, dataModel, eventType, json },
      () => "json",
    );
    if (!routes.some((r) => r.destinationId === destination.id)) {
      return {
        ok: false,
        status: 403,
        error: `no subscription of source ${source.id} sends ${dataModel}.${eventType} ` +
          `to ${destination.id}`,
      };
    }
    const q: Query = {
      request,
      source,
      destination,
      meta,
      dataModel,
      eventType,
      started: Date.now(),
    };
    if (request.fhir && (destination.https || destination.mllp) && !destination.https?.fhir) {
      return {
        ok: false,
        status: 406,
        error: `destination ${destination.id} is not a FHIR server: FHIR answers ` +
          "(Accept: application/fhir+json) are only available from FHIR-server destinations " +
          "(https.fhir); ask without that Accept header for the data model's answer",
      };
    }
    if (destination.https?.fhir) return await this.#fhir(q, signal);
    if (destination.https) return await this.#https(q, signal);
    if (destination.mllp) return await this.#mllp(q, signal);
    return {
      ok: false,
      status: 400,
      error: `destination ${destination.id} takes files; queries go to HTTPS or MLLP destinations`,
    };
  }

  /**
   * An X12 query (a 270, or any single transaction set): sent as it came to the one HTTPS
   * destination a subscription of the source sends it to (by `x12`, or the `destination` URL
   * parameter among several); the destination's synchronous answer (the 271) comes back as it
   * came. SFTP and MLLP destinations answer nothing synchronously: `400`.
   */
  async queryDocument(request: ApiDocumentRequest): Promise<ApiQueryResult> {
    const { config } = this.#options;
    const planned = planX12Query(config, request);
    if (!planned.ok) return planned.result;
    const { source, destination, setId } = planned;
    if (!destination.https) {
      return {
        ok: false,
        status: 400,
        error: `destination ${destination.id} does not answer synchronously: ` +
          "X12 queries go to HTTPS destinations (post to /endpoint to send it as a message)",
      };
    }
    const q: Query = {
      request: { ...request, json: undefined },
      source,
      destination,
      meta: {},
      dataModel: "X12",
      eventType: setId,
      started: Date.now(),
      contentType: request.contentType,
    };
    return await this.#https(q, NEVER);
  }

  async #https(q: Query, signal: AbortSignal): Promise<ApiQueryResult> {
    const { config } = this.#options;
    const id = q.destination.id;
    const pending = this.#options.https?.query(id, {
      body: q.request.bytes,
      contentType: q.contentType ?? "application/json",
      timeoutMs: config.limits.queryTimeoutSeconds * 1000,
      signal,
      maxBodyBytes: config.limits.maxJsonBytes,
    });
    const received = await this.#httpsAnswer(q, pending);
    if ("done" in received) return received.done;
    const { response, answer } = received;
    const described = describeResponse(response, SNIPPET_CHARS);
    const parsed = parseJson(response.body);
    if (response.status >= 200 && response.status < 300) {
      await this.#record(q, {
        status: "SUCCEEDED",
        reason: `HTTP ${response.status}`,
        response: answer,
      });
      if (parsed.ok) return { ok: true, body: parsed.value };
      return { ok: true, text: response.body, contentType: answer.contentType };
    }
    await this.#record(q, { status: "FAILED", reason: described, response: answer });
    const error: QueryError = {
      Text: `destination ${id} answered ${described}`,
      Type: "destination",
      Module: "query",
    };
    // A JSON answer with a Meta keeps its own shape; the error joins its Meta.Errors.
    if (parsed.ok && isObject(parsed.value) && isObject(parsed.value.Meta)) {
      const m = parsed.value.Meta;
      const errors = Array.isArray(m.Errors) ? m.Errors : [];
      return { ok: true, body: { ...parsed.value, Meta: { ...m, Errors: [...errors, error] } } };
    }
    return {
      ok: true,
      body: {
        Meta: { ...this.#answerMeta(q, responseEvent(q.dataModel, q.eventType)), Errors: [error] },
      },
    };
  }

  /** A Patient search on a FHIR server; see the module doc. */
  async #fhir(q: Query, signal: AbortSignal): Promise<ApiQueryResult> {
    const { config, log } = this.#options;
    const https = q.destination.https!;
    const id = q.destination.id;
    const issues = validateQuery(q.request.json);
    if (issues.length > 0) {
      return {
        ok: false,
        status: 400,
        error: `FHIR destination ${id} answers ${QUERY_MODEL}.${QUERY_EVENT} queries ` +
          "(a Patient search); this one cannot be sent",
        problems: issues.map((i) => ({ path: i.path, rule: i.rule })),
      };
    }
    const options = https.fhir?.identifierSystems
      ? { identifierSystems: https.fhir.identifierSystems }
      : {};
    const url = `${https.url.replace(/\/+$/, "")}/Patient?` +
      patientSearchParams(q.request.json as Record<string, unknown>, options);
    const sent: QueryPart = {
      payload: encoder.encode(`GET ${url}`),
      contentType: "text/plain",
      messageType: "GET Patient",
    };
    const pending = this.#options.https?.query(id, {
      method: "GET",
      url,
      headers: { accept: "application/fhir+json" },
      body: new Uint8Array(),
      contentType: "application/fhir+json",
      timeoutMs: config.limits.queryTimeoutSeconds * 1000,
      signal,
      maxBodyBytes: config.limits.maxJsonBytes,
    });
    const received = await this.#httpsAnswer(q, pending, sent);
    if ("done" in received) return received.done;
    const { response, answer } = received;
    const ok = response.status >= 200 && response.status < 300;
    const parsed = parseJson(response.body);
    let read: ReturnType<typeof searchsetToQueryResponse> | undefined;
    let failure: string | undefined;
    if (!ok) {
      failure = describeFhirFailure(response) ?? describeResponse(response, SNIPPET_CHARS);
    } else if (!parsed.ok) {
      failure = `HTTP ${response.status} but the answer is not JSON`;
    } else {
      try {
        read = searchsetToQueryResponse(parsed.value, options);
      } catch (error) {
        if (!(error instanceof FhirError)) throw error;
        // A 2xx OperationOutcome (no bundle) is the server's refusal in its own words.
        failure = describeFhirFailure(response) ??
          `HTTP ${response.status}: ${error.issues.map((i) => i.text).join("; ")}`;
      }
    }
    const found = read ? (read.Patient ? 1 : read.PotentialMatches.length) : 0;
    const ids = await this.#record(q, {
      status: read ? "SUCCEEDED" : "FAILED",
      reason: failure ?? `HTTP ${response.status}: searchset, ${found} patient(s)`,
      sent,
      response: answer,
    });
    log.debug("query.answered", { source: q.source.id, destination: id, fhir: true });
    if (q.request.fhir) {
      if (read === undefined || !parsed.ok) {
        return {
          ok: false,
          status: 502,
          error: `destination ${id} answered ${failure ?? "no searchset"}`,
          fhirIssues: parsed.ok ? outcomeIssuesOf(parsed.value) : [],
        };
      }
      return {
        ok: true,
        // Its id is the REQUEST log's, as `Meta.Logs` names it in the data model's answer.
        body: searchsetAnswer(parsed.value, { base: https.url, ...(ids ? { id: ids[0] } : {}) }),
        contentType: "application/fhir+json",
      };
    }
    const errors = read?.Meta.Errors ?? [];
    if (failure !== undefined) {
      errors.push({
        Text: `destination ${id} answered ${failure}`,
        Type: "destination",
        Module: "query",
      });
    }
    return {
      ok: true,
      body: {
        Patient: read?.Patient ?? null,
        PotentialMatches: read?.PotentialMatches ?? [],
        Meta: {
          ...this.#answerMeta(q, RESPONSE_EVENT),
          ...(read?.Meta.EventDateTime ? { EventDateTime: read.Meta.EventDateTime } : {}),
          ...(ids ? { Logs: ids.map((ID) => ({ ID })) } : {}),
          Errors: errors,
        },
      },
    };
  }

  async #mllp(q: Query, signal: AbortSignal): Promise<ApiQueryResult> {
    const { config, log } = this.#options;
    const mllp = q.destination.mllp!;
    const id = q.destination.id;
    const issues = validateQuery(q.request.json);
    if (issues.length > 0) {
      return {
        ok: false,
        status: 400,
        error: `MLLP destination ${id} answers ${QUERY_MODEL}.${QUERY_EVENT} queries; ` +
          "this one cannot be sent",
        problems: issues.map((i) => ({ path: i.path, rule: i.rule })),
      };
    }
    const controlId = newControlId();
    const settings = mllp.query;
    const hl7 = queryToHl7(q.request.json, {
      style: settings.message,
      controlId,
      maxResults: settings.maxResults,
      ...optional({
        sendingApplication: settings.sendingApplication,
        sendingFacility: settings.sendingFacility,
        receivingApplication: settings.receivingApplication,
        receivingFacility: settings.receivingFacility,
      }),
    });
    const sent: QueryPart = {
      payload: encoder.encode(hl7),
      contentType: "application/hl7-v2",
      controlId,
      messageType: settings.message,
    };
    const deadline = AbortSignal.any([
      signal,
      AbortSignal.timeout(config.limits.queryTimeoutSeconds * 1000),
    ]);
    const result = await mllpQuery({
      connector: this.#options.mllpConnector,
      target: mllpTarget(mllp),
      payload: sent.payload,
      connectTimeoutMs: mllp.connectTimeoutSeconds * 1000,
      signal: deadline,
    });
    if (!result.ok) {
      await this.#record(q, { status: "FAILED", reason: result.reason, sent });
      if (result.kind === "aborted") return this.#timedOut(q);
      return { ok: false, status: 502, error: `destination ${id}: ${result.reason}` };
    }
    const text = decodeHl7Bytes(result.frame, config.limits.fallbackCharset);
    const answer: QueryPart = { payload: result.frame, contentType: "application/hl7-v2" };
    const parsed = tryParseHl7(text);
    if (!parsed.ok) {
      const reason = `the answer is not HL7 v2: ${parsed.error.message}`;
      await this.#record(q, { status: "FAILED", reason, sent, response: answer });
      return { ok: false, status: 502, error: `destination ${id}: ${reason}` };
    }
    const msg = parsed.message;
    answer.controlId = msg.controlId ?? "";
    answer.messageType = `${msg.messageType ?? ""}^${msg.triggerEvent ?? ""}`;
    const echoed = msg.get("MSA-2");
    if (echoed !== controlId) {
      const reason = `the answer's MSA-2 is ${JSON.stringify(echoed ?? "")}, ` +
        `not the query's control id ${controlId}`;
      await this.#record(q, { status: "FAILED", reason, sent, response: answer });
      return { ok: false, status: 502, error: `destination ${id}: ${reason}` };
    }
    const response = hl7ToQueryResponse(msg, { timeZone: settings.timeZone });
    const refused = response.Meta.Errors.filter((e) => e.Type === "destination");
    const reason = refused.length > 0
      ? refused.map((e) => e.Text).join("; ")
      : `${answer.messageType}: ${
        response.Patient ? 1 : response.PotentialMatches.length
      } patient(s)`;
    const ids = await this.#record(q, {
      status: refused.length > 0 ? "FAILED" : "SUCCEEDED",
      reason,
      sent,
      response: answer,
    });
    log.debug("query.answered", { source: q.source.id, destination: id, controlId });
    return {
      ok: true,
      body: {
        ...response,
        Meta: {
          ...this.#answerMeta(q, RESPONSE_EVENT),
          ...(response.Meta.EventDateTime ? { EventDateTime: response.Meta.EventDateTime } : {}),
          ...(ids ? { Logs: ids.map((ID) => ({ ID })) } : {}),
          Errors: response.Meta.Errors,
        },
      },
    };
  }

  /** `Meta` of an answer the engine writes itself. */
  #answerMeta(q: Query, eventType: string): Record<string, unknown> {
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
   * The HTTPS destination's answer to a query, or, when there is none to read (no HTTPS client,
   * refused, timed out, unreachable, or larger than `limits.maxJsonBytes`), the API's answer,
   * with the failure logged.
   */
  async #httpsAnswer(
    q: Query,
    pending: Promise<HttpsQueryResult> | undefined,
    sent?: QueryPart,
  ): Promise<{ done: ApiQueryResult } | { response: HttpResponse; answer: QueryPart }> {
    const id = q.destination.id;
    if (!pending) {
      return {
        done: { ok: false, status: 503, error: "this engine has no HTTPS client for queries" },
      };
    }
    const result = await pending;
    if (!result.ok) {
      await this.#record(q, { status: "FAILED", reason: result.reason, ...(sent ? { sent } : {}) });
      if (result.kind === "unverified") {
        return { done: { ok: false, status: 403, error: result.reason } };
      }
      if (result.kind === "timeout" || result.kind === "aborted") {
        return { done: this.#timedOut(q) };
      }
      return { done: { ok: false, status: 502, error: `destination ${id}: ${result.reason}` } };
    }
    // A destination may echo the credentials it was sent (an error page quoting the request):
    // they leave the engine in no answer, log or stored RESPOND payload.
    const response = redactedResponse(result.response, result.secrets);
    const answer: QueryPart = {
      payload: encoder.encode(response.body),
      contentType: response.headers.get("content-type") ?? "application/octet-stream",
    };
    if (response.truncated) {
      const reason = `the answer is larger than ${this.#options.config.limits.maxJsonBytes} bytes`;
      await this.#record(q, {
        status: "FAILED",
        reason,
        ...(sent ? { sent } : {}),
        response: answer,
      });
      return { done: { ok: false, status: 502, error: `destination ${id}: ${reason}` } };
    }
    return { response, answer };
  }

  #timedOut(q: Query): ApiQueryResult {
    const seconds = this.#options.config.limits.queryTimeoutSeconds;
    return {
      ok: false,
      status: 504,
      error: `destination ${q.destination.id} did not answer within ${seconds} s`,
    };
  }

  /** Writes the REQUEST and RESPOND logs; their ids, or undefined when KV failed (logged). */
  async #record(q: Query, outcome: Outcome): Promise<string[] | undefined> {
    const { store, log } = this.#options;
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
}

/** The answer's event type by the hosted platforms' naming: `Query` → `QueryResponse`, … */
export function responseEvent(dataModel: string, eventType: string): string {
  if (dataModel === QUERY_MODEL && eventType === QUERY_EVENT) return RESPONSE_EVENT;
  return `${eventType}Response`;
}

/** `response` with every credential of `secrets` in its body and headers `[redacted]`. */
function redactedResponse(response: HttpResponse, secrets: readonly string[]): HttpResponse {
  if (secrets.length === 0) return response;
  const headers = new Headers();
  for (const [name, value] of response.headers) headers.append(name, redact(value, secrets));
  return { ...response, headers, body: redact(response.body, secrets) };
}

function invalid(error: string, path: string, rule: string): ApiQueryResult {
  return { ok: false, status: 400, error, problems: [{ path, rule }] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function optional<T extends Record<string, unknown>>(fields: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined) out[k as keyof T] = v as T[keyof T];
  }
  return out;
}
