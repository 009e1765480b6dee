/**
 * A query to an HTTPS destination: the JSON (or an X12 query) `POST`ed as is with the
 * destination's credentials; a `2xx` answer's body returned as it came, any other status a `200`
 * whose `Meta.Errors[]` says what the destination answered. Reading the destination's answer (and
 * what the API answers when there is none) is shared with FHIR servers' queries.
 * @module
 */

import { describeResponse, type HttpResponse, type HttpsQueryResult } from "../https_out/mod.ts";
import { redact } from "../https_out/redact.ts";
import type { QueryPart } from "../store/store.ts";
import type { ApiQueryResult } from "../ports.ts";
import {
  answerMeta,
  type ApiQueryOptions,
  encoder,
  isObject,
  parseJson,
  type Query,
  type QueryError,
  recordExchange,
  responseEvent,
  SNIPPET_CHARS,
  timedOut,
} from "./api_query_exchange.ts";

/** Sends `q` to its HTTPS destination and answers with what came back; see the module doc. */
export async function httpsQuery(
  options: ApiQueryOptions,
  q: Query,
  signal: AbortSignal,
): Promise<ApiQueryResult> {
  const { config } = options;
  const id = q.destination.id;
  const pending = options.https?.query(id, {
    body: q.request.bytes,
    contentType: q.contentType ?? "application/json",
    timeoutMs: config.limits.queryTimeoutSeconds * 1000,
    signal,
    maxBodyBytes: config.limits.maxJsonBytes,
  });
  const received = await httpsAnswer(options, q, pending);
  if ("done" in received) return received.done;
  const { response, answer } = received;
  const described = describeResponse(response, SNIPPET_CHARS);
  const parsed = parseJson(response.body);
  if (response.status >= 200 && response.status < 300) {
    await recordExchange(options, q, {
      status: "SUCCEEDED",
      reason: `HTTP ${response.status}`,
      response: answer,
    });
    if (parsed.ok) return { ok: true, body: parsed.value };
    return { ok: true, text: response.body, contentType: answer.contentType };
  }
  await recordExchange(options, q, { status: "FAILED", reason: described, response: answer });
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
      Meta: { ...answerMeta(q, responseEvent(q.dataModel, q.eventType)), Errors: [error] },
    },
  };
}

/**
 * The HTTPS destination's answer to a query, or, when there is none to read (no HTTPS client,
 * refused, timed out, unreachable, or larger than `limits.maxJsonBytes`), the API's answer,
 * with the failure logged.
 */
export async function httpsAnswer(
  options: ApiQueryOptions,
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
    await recordExchange(options, q, {
      status: "FAILED",
      reason: result.reason,
      ...(sent ? { sent } : {}),
    });
    if (result.kind === "unverified") {
      return { done: { ok: false, status: 403, error: result.reason } };
    }
    if (result.kind === "timeout" || result.kind === "aborted") {
      return { done: timedOut(options, q) };
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
    const reason = `the answer is larger than ${options.config.limits.maxJsonBytes} bytes`;
    await recordExchange(options, q, {
      status: "FAILED",
      reason,
      ...(sent ? { sent } : {}),
      response: answer,
    });
    return { done: { ok: false, status: 502, error: `destination ${id}: ${reason}` } };
  }
  return { response, answer };
}

/** `response` with every credential of `secrets` in its body and headers `[redacted]`. */
function redactedResponse(response: HttpResponse, secrets: readonly string[]): HttpResponse {
  if (secrets.length === 0) return response;
  const headers = new Headers();
  response.headers.forEach((value, name) => headers.append(name, redact(value, secrets)));
  return { ...response, headers, body: redact(response.body, secrets) };
}
