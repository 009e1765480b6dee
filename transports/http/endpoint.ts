/**
 * `POST /endpoint` (a data-model JSON message from an API source) and `POST /query` (a
 * synchronous query to one destination). Both check, in order: the per-IP rate limit, the bearer
 * access token (before a byte of the body is read, so an unauthenticated client costs nothing),
 * the media type, the size limit (a `Content-Length` over it is refused before reading; a
 * streamed body is cut off as soon as it crosses it), the nesting depth, JSON parsing. Then a message goes
 * to the engine's {@link ApiInbox}, which validates and stores it and says what to answer, and a
 * query to its {@link ApiQuerier}, which asks the destination and returns the answer. A message
 * body larger than the inbox's `largeJsonBytes` (the planning thread's 32 KiB) goes to it unparsed
 * (large_json.ts): the engine parses, validates and plans it on its planning thread, and the
 * answers are the ones given here, byte for byte. A
 * `PatientSearch` posted to `/endpoint` (where Redox's clients post every data model) is a query.
 *
 * Every refusal has the same JSON shape, `{"Meta": {"Errors": [{"Text": "...", "Path": "..."}]}}`
 * (`Path` only where a problem has a place in the message), and `Cache-Control: no-store`.
 * Statuses: 200 (the inbox's body, with `Meta.Logs`), 400 (bad JSON: line, column and what was
 * expected; nested deeper than `limits.maxJsonDepth`, with the path; an object naming a key
 * twice, with the key and its path (`JSON.parse` would keep the last value, other readers of the
 * bytes the first); invalid message: one error per problem; or a body that could not be read to
 * its end, e.g. malformed chunked encoding, after which the connection is closed), 401 (no, bad
 * or expired token, with `WWW-Authenticate: Bearer`), 403, 404, 405, 408 (the body did not arrive within
 * `limits.httpBodyTimeoutSeconds`; the connection is closed), 413, 415 (a media type, or a
 * `Content-Encoding` other than `identity`: bodies are taken uncompressed), 429 (with
 * `Retry-After`), 500, 503;
 * for queries also 502 (the destination failed or answered nonsense) and 504 (no answer in time).
 * Every answer carries `X-RateLimit-Limit` and `X-RateLimit-Remaining`. Every refusal is logged
 * (warn) with the client's address and, once authenticated, its source: `endpoint.rate-limited`,
 * `endpoint.unauthorized`, `endpoint.body-timeout`, `endpoint.body-failed`, `endpoint.too-large`,
 * `endpoint.too-deep`, and `endpoint.invalid` for the rest below 500 (the status and the first
 * problem, cut to 300 characters; never the body). `endpoint.too-large` is logged at most once per
 * address every 5 s, with how many were refused (`refused=`).
 *
 * A `POST /query` whose `Accept` prefers `application/fhir+json` is answered in FHIR: the
 * engine's `searchset` Bundle (from a FHIR-server destination), and every refusal as an
 * `OperationOutcome` (`application/fhir+json`, one issue per error, then the FHIR server's own
 * issues) with the status the JSON refusal has; `406` when the destination is no FHIR server.
 * @module
 */

import { charsetRefusal, foreignCharset } from "./charset.ts";
import { type Context, Hono } from "hono";
import type {
  ApiAcceptResult,
  ApiDocumentRequest,
  ApiDocumentResult,
  ApiInbox,
  ApiProblem,
  ApiQuerier,
  ApiQueryResult,
  ApiRequest,
  LimitsConfig,
  Logger,
} from "../../actors/ports.ts";
import type { AccessTokenVerifier } from "./access_token.ts";
import { QUERY_MODEL } from "../../codecs/datamodel/mod.ts";
import { BodyTimeoutError, readLimited } from "./body.ts";
import { DEFAULT_MAX_JSON_DEPTH, JsonDepthScanner } from "./json_depth.ts";
import { parseJsonBytes } from "./json_parse.ts";
import {
  type LargeJsonInbox,
  largeJsonInbox,
  type LargeJsonRequest,
  type LargeJsonResult,
} from "./large_json.ts";
import { BodyFramingError } from "./node_bridge.ts";
import { peerIp } from "./peer.ts";
import { RateLimiter } from "./rate_limit.ts";
import { codeOf, FHIR_JSON, prefersFhir } from "./fhir_outcome.ts";
import { sendBody, sendJson } from "./respond.ts";
import { clip } from "./clip.ts";
import { LogThrottle } from "../../actors/mod.ts";
import { AUTH_LOG_BURST, PeerLog } from "./peer_log.ts";

const encoder = new TextEncoder();

/** The path messages are posted to. */
export const ENDPOINT_PATH = "/endpoint";
/** The path queries are posted to. */
export const QUERY_PATH = "/query";

/** What {@link createEndpointApp} is built from. */
export interface EndpointAppOptions {
  /** Checks bearer access tokens (an `AccessTokens`). */
  tokens: AccessTokenVerifier;
  /** The engine's side: validation, routing checks and durable storage. */
  inbox: ApiInbox;
  /** The engine's side of `POST /query`; without it that route is not served. */
  queries?: ApiQuerier;
  /**
   * `maxJsonBytes`, `maxJsonDepth` (64 when absent), and the per-IP rate limit unless
   * `rateLimiter` is given.
   */
  limits:
    & Pick<LimitsConfig, "maxJsonBytes" | "rateLimitPerIp" | "rateLimitWindowSeconds">
    & Partial<Pick<LimitsConfig, "maxJsonDepth">>;
  /** A limiter to use instead of one built from `limits` (e.g. shared with other routes). */
  rateLimiter?: RateLimiter;
  log: Logger;
}

/**
 * The body size and depth limits and the per-IP rate limiter of `options`: the same for
 * `/endpoint` and the FHIR API, which take the same options.
 */
export function requestLimits(
  options: Pick<EndpointAppOptions, "limits" | "rateLimiter">,
): { maxBytes: number; maxDepth: number; limiter: RateLimiter } {
  return {
    maxBytes: options.limits.maxJsonBytes,
    maxDepth: options.limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH,
    limiter: options.rateLimiter ?? new RateLimiter({
      limit: options.limits.rateLimitPerIp,
      windowMs: options.limits.rateLimitWindowSeconds * 1000,
    }),
  };
}

/** One entry of `Meta.Errors` in a refusal. */
export interface EndpointError {
  Text: string;
  Path?: string;
}

/** The body of every refusal. */
export interface EndpointErrorBody {
  Meta: { Errors: EndpointError[] };
}

type Status =
  | 400
  | 401
  | 403
  | 404
  | 405
  | 406
  | 408
  | 413
  | 415
  | 422
  | 429
  | 500
  | 502
  | 503
  | 504;

/** The endpoint app (see the module doc). */
export function createEndpointApp(options: EndpointAppOptions): Hono {
  const { tokens, inbox, log } = options;
  const { maxBytes, maxDepth, limiter } = requestLimits(options);
  const app = new Hono();
  /** `endpoint.too-large` lines, per client address (a client can send one per request). */
  const tooLargeLog = new LogThrottle(5_000);
  // Lines a client causes before it authenticates, throttled per address (peer_log.ts): past its
  // rate every request is refused, so one line, then one every 5 s with the count; a bad token
  // may be a client's occasional mistake, so a few lines before the count.
  const rateLog = new PeerLog(log);
  const authLog = new PeerLog(log, { burst: AUTH_LOG_BURST });

  const refuse = (
    c: Context,
    status: Status,
    errors: EndpointError[],
    headers: Record<string, string> = {},
    fhirIssues: Record<string, unknown>[] = [],
  ) => {
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    if (wantsFhir(c)) {
      const issue = [
        ...errors.map((e) => ({
          severity: "error",
          code: codeOf(status),
          // The paths are the data-model query's, not FHIRPaths: said, not located.
          diagnostics: e.Path ? `${e.Path}: ${e.Text}` : e.Text,
        })),
        ...fhirIssues,
      ];
      return sendJson(c, { resourceType: "OperationOutcome", issue }, status, {
        "Content-Type": FHIR_JSON,
      });
    }
    return sendJson(c, { Meta: { Errors: errors } } satisfies EndpointErrorBody, status);
  };

  /**
   * Refuses a request whose message (not its transport) is wrong: 400 invalid JSON or message,
   * 403, 404, 406, 413, 415, 422, with one `endpoint.invalid` line naming the source and the
   * first problem (cut: a problem may quote the request), never the body. A 5xx is only
   * answered: the engine logged it (`api.store-failed`, `query.done`).
   */
  const invalid = (
    c: Context,
    request: { peerIp: string; sourceId: string | undefined },
    status: Status,
    errors: EndpointError[],
    headers: Record<string, string> = {},
    fhirIssues: Record<string, unknown>[] = [],
  ) => {
    if (status >= 500) return refuse(c, status, errors, headers, fhirIssues);
    const first = errors[0];
    log.warn("endpoint.invalid", {
      ip: request.peerIp,
      source: request.sourceId,
      route: c.req.path,
      status,
      problem: first ? clip(first.Path ? `${first.Path}: ${first.Text}` : first.Text) : undefined,
      ...(errors.length > 1 ? { problems: errors.length } : {}),
    });
    return refuse(c, status, errors, headers, fhirIssues);
  };

  /**
   * What both routes check before the engine sees a request: rate limit, token, media type, size
   * and JSON. A refusal is the Response to send; otherwise the request for the engine.
   */
  const admit = async (
    c: Context,
    documents = false,
    large?: LargeJsonInbox,
  ): Promise<Response | ApiRequest | ApiDocumentRequest | LargeJsonRequest> => {
    c.header("Cache-Control", "no-store");
    const ip = peerIp(c);
    const verdict = limiter.take(ip);
    c.header("X-RateLimit-Limit", String(verdict.limit));
    c.header("X-RateLimit-Remaining", String(verdict.remaining));
    if (!verdict.allowed) {
      await c.req.raw.body?.cancel().catch(() => {});
      rateLog.warn("endpoint.rate-limited", ip, { ip, limit: verdict.limit });
      return refuse(c, 429, [{
        Text: `more than ${verdict.limit} requests from ${ip} within ${
          limiter.windowMs / 1000
        } s; retry in ${verdict.retryAfterSeconds} s`,
      }], { "Retry-After": String(verdict.retryAfterSeconds) });
    }

    const bearer = bearerToken(c.req.header("authorization"));
    const checked = typeof bearer === "string"
      ? await tokens.verify(bearer)
      : { ok: false as const, error: bearer.error };
    if (!checked.ok) {
      await c.req.raw.body?.cancel().catch(() => {});
      authLog.warn("endpoint.unauthorized", ip, { ip, why: checked.error });
      const challenge = typeof bearer === "string"
        ? `Bearer error="invalid_token", error_description="${checked.error.replace(/"/g, "'")}"`
        : "Bearer";
      return refuse(c, 401, [{ Text: checked.error }], { "WWW-Authenticate": challenge });
    }

    const who = { peerIp: ip, sourceId: checked.sourceId };
    const type = c.req.header("content-type");
    // X12 and C-CDA bodies go to the engine as they are, when it takes them.
    const document = type !== undefined && DOCUMENT_TYPE.test(type) && documents;
    if (
      type !== undefined && !document && !/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)
    ) {
      await c.req.raw.body?.cancel().catch(() => {});
      return invalid(c, who, 415, [{
        Text: `Content-Type must be application/json${
          documents ? ", application/edi-x12 or an XML type (C-CDA)" : ""
        }; got ${JSON.stringify(clip(type))}`,
      }]);
    }
    const charset = document ? undefined : foreignCharset(type);
    if (charset !== undefined) {
      await c.req.raw.body?.cancel().catch(() => {});
      return invalid(c, who, 415, [{ Text: charsetRefusal(charset) }]);
    }
    // Bodies are read as they are: a compressed one would only fail later as "not UTF-8".
    const encoding = c.req.header("content-encoding")?.trim();
    if (encoding && !/^identity$/i.test(encoding)) {
      await c.req.raw.body?.cancel().catch(() => {});
      return invalid(c, who, 415, [{
        Text: `Content-Encoding ${clip(encoding)} is not supported; send the body uncompressed`,
      }]);
    }

    let body: Awaited<ReturnType<typeof readLimited>>;
    // Checked as the body arrives, before JSON.parse: a deeply nested body costs the parser
    // memory and time out of all proportion to its size. The body is still read to its end, so
    // the client (still sending) reliably gets the answer.
    const depth = new JsonDepthScanner(maxDepth);
    try {
      body = await readLimited(c.req.raw, maxBytes, (chunk) => document || depth.feed(chunk));
    } catch (error) {
      if (error instanceof BodyTimeoutError) {
        log.warn("endpoint.body-timeout", { ip, source: checked.sourceId, seconds: error.seconds });
        return refuse(c, 408, [{ Text: error.message }], { Connection: "close" });
      }
      // The client went away mid-body (no one reads the answer), or sent broken framing (a
      // BodyFramingError: the answer goes out, then the connection closes).
      log.warn("endpoint.body-failed", { ip, source: checked.sourceId, error });
      const why = error instanceof BodyFramingError ? `: ${error.message}` : "";
      return refuse(c, 400, [{ Text: `the body could not be read to its end${why}` }], {
        Connection: "close",
      });
    }
    if (!body.ok) {
      // One line per address every 5 s, with how many were refused since the last.
      const refused = tooLargeLog.note(ip);
      if (refused > 0) {
        log.warn("endpoint.too-large", {
          ip,
          source: checked.sourceId,
          limit: body.limit,
          ...(body.declared !== undefined ? { declared: body.declared } : { read: body.read }),
          refused,
        });
      }
      return refuse(c, 413, [{
        Text: body.declared !== undefined
          ? `the body (Content-Length ${body.declared}) is larger than the limit of ${maxBytes} bytes`
          : `the body is larger than the limit of ${maxBytes} bytes`,
      }], { Connection: "close" });
    }
    if (document) {
      const destination = new URL(c.req.url).searchParams.get("destination");
      return {
        sourceId: checked.sourceId,
        environment: checked.environment,
        contentType: type!,
        bytes: body.bytes,
        peerIp: ip,
        ...(destination ? { destination } : {}),
      } satisfies ApiDocumentRequest;
    }
    const nested = depth.result;
    if (!nested.ok) {
      log.warn("endpoint.too-deep", { ip, source: checked.sourceId, limit: maxDepth });
      return refuse(c, 400, [{
        Text:
          `the JSON is nested more than ${maxDepth} levels deep (limits.maxJsonDepth) at ${nested.path}`,
        Path: nested.path,
      }]);
    }
    const request = {
      sourceId: checked.sourceId,
      environment: checked.environment,
      bytes: body.bytes,
      peerIp: ip,
      // The depth scan also said whether an object may repeat a key: only then is it checked.
      keysMayRepeat: depth.mayRepeatKeys,
    };
    // A large body is parsed, checked and planned off the engine's thread (large_json.ts).
    if (large && body.bytes.byteLength > large.largeJsonBytes) return request;
    return parse(c, request);
  };

  /** Parses a body here: the request for the engine, or the 400 saying why it is not JSON. */
  const parse = (c: Context, large: LargeJsonRequest): Response | ApiRequest => {
    const { keysMayRepeat, ...request } = large;
    const parsed = parseJsonBytes(request.bytes, { keysMayRepeat });
    if (!parsed.ok) return notJson(c, request, parsed);
    return { ...request, json: parsed.value };
  };

  /** The 400 of a body that is not JSON (or names a key twice), wherever it was parsed. */
  const notJson = (
    c: Context,
    who: { peerIp: string; sourceId: string },
    parsed: { error: string; path?: string },
  ) =>
    invalid(c, who, 400, [{
      Text: parsed.error,
      ...(parsed.path ? { Path: parsed.path } : {}),
    }]);

  const queries = options.queries;

  /** Asks the engine's querier and answers what it says. */
  const answerQuery = (c: Context, request: ApiRequest, querier: ApiQuerier) =>
    // Not `c.req.raw.signal`: under Deno it also fires after a successful answer (and warns);
    // the query timeout bounds the work when a client goes away.
    answerQueryResult(c, () => querier.query(request), request);

  /** Answers what a query resolved to. */
  const answerQueryResult = async (
    c: Context,
    ask: () => Promise<ApiQueryResult>,
    request: { peerIp: string; sourceId: string },
  ) => {
    let result: ApiQueryResult;
    try {
      result = await ask();
    } catch (error) {
      if (storeUnavailable(error)) return unavailable(c, error);
      log.error("query.failed", { ip: request.peerIp, source: request.sourceId, error });
      return refuse(c, 500, [{ Text: "the query failed inside the engine" }]);
    }
    if (!result.ok) {
      return invalid(
        c,
        request,
        result.status,
        result.problems?.length ? result.problems.map(problemError) : [{ Text: result.error }],
        {},
        result.fhirIssues,
      );
    }
    if ("text" in result) {
      return sendBody(c, encoder.encode(result.text), 200, {
        "Content-Type": result.contentType,
      });
    }
    return sendJson(
      c,
      result.body,
      200,
      result.contentType ? { "Content-Type": result.contentType } : {},
    );
  };

  const large = largeJsonInbox(inbox);

  app.post(ENDPOINT_PATH, async (c) => {
    let request = await admit(c, inbox.acceptDocument !== undefined, large);
    if (request instanceof Response) return request;
    if ("contentType" in request) return answerDocument(c, request, inbox);
    if (!("json" in request)) {
      let taken: LargeJsonResult = { kind: "inline" };
      if (large) {
        try {
          taken = await large.acceptLargeJson(request);
        } catch (error) {
          return inboxFailed(c, request, error);
        }
      }
      if (taken.kind === "invalid-json") return notJson(c, request, taken);
      if (taken.kind === "answered") return answerAccepted(c, request, taken.result);
      // A query, or no planning thread: parsed and taken here, as a small body is.
      request = parse(c, request);
      if (request instanceof Response) return request;
    }
    // Redox's clients post every data model to /endpoint: a query is answered synchronously.
    if (isQuery(request.json)) {
      if (queries) return answerQuery(c, request, queries);
      return invalid(c, request, 400, [{
        Text: `${QUERY_MODEL} is a query, and this engine answers no queries`,
        Path: "Meta.DataModel",
      }]);
    }
    let result: ApiAcceptResult;
    try {
      result = await inbox.accept(request);
    } catch (error) {
      return inboxFailed(c, request, error);
    }
    return answerAccepted(c, request, result);
  });

  /** The inbox threw: nothing was acknowledged, the client tries again. */
  const inboxFailed = (
    c: Context,
    request: { peerIp: string; sourceId: string },
    error: unknown,
  ) => {
    if (storeUnavailable(error)) return unavailable(c, error);
    log.error("endpoint.inbox-failed", { ip: request.peerIp, source: request.sourceId, error });
    return refuse(c, 500, [{ Text: "the message could not be stored: try again" }]);
  };

  /** Answers what the inbox said of a message. */
  const answerAccepted = (
    c: Context,
    request: { peerIp: string; sourceId: string },
    result: ApiAcceptResult,
  ) => {
    if (result.ok) return sendJson(c, result.body, 200);
    return invalid(
      c,
      request,
      result.status,
      result.problems?.length ? result.problems.map(problemError) : [{ Text: result.error }],
      result.retryAfterSeconds !== undefined
        ? { "Retry-After": String(Math.max(1, Math.ceil(result.retryAfterSeconds))) }
        : {},
    );
  };

  if (queries) {
    app.post(QUERY_PATH, async (c) => {
      // Queries are small: parsed here whatever their size (no planning thread is given).
      let request = await admit(c, queries.queryDocument !== undefined);
      if (request instanceof Response) return request;
      if ("contentType" in request) {
        const document = request;
        return answerQueryResult(c, () => queries.queryDocument!(document), document);
      }
      if (!("json" in request)) request = parse(c, request);
      if (request instanceof Response) return request;
      return answerQuery(c, wantsFhir(c) ? { ...request, fhir: true } : request, queries);
    });
    app.all(QUERY_PATH, (c) =>
      invalid(c, { peerIp: peerIp(c), sourceId: undefined }, 405, [{
        Text: `use POST, not ${clip(c.req.method)}`,
      }], { Allow: "POST", "Cache-Control": "no-store" }));
  }

  /** Hands an X12 or C-CDA body to the engine and answers what it says. */
  const answerDocument = async (c: Context, request: ApiDocumentRequest, to: ApiInbox) => {
    let result: ApiDocumentResult;
    try {
      result = await to.acceptDocument!(request);
    } catch (error) {
      if (storeUnavailable(error)) return unavailable(c, error);
      log.error("endpoint.inbox-failed", { ip: request.peerIp, source: request.sourceId, error });
      return refuse(c, 500, [{ Text: "the message could not be stored: try again" }]);
    }
    if (result.ok && "text" in result) {
      return sendBody(c, encoder.encode(result.text), 200, { "Content-Type": result.contentType });
    }
    if (result.ok) return sendJson(c, result.body, 200);
    return invalid(
      c,
      request,
      result.status,
      result.problems?.length ? result.problems.map(problemError) : [{ Text: result.error }],
      result.retryAfterSeconds !== undefined
        ? { "Retry-After": String(Math.max(1, Math.ceil(result.retryAfterSeconds))) }
        : {},
    );
  };

  app.all(ENDPOINT_PATH, (c) =>
    invalid(c, { peerIp: peerIp(c), sourceId: undefined }, 405, [{
      Text: `use POST, not ${clip(c.req.method)}`,
    }], { Allow: "POST", "Cache-Control": "no-store" }));

  /** KV cannot commit (a full disk): the store logs it once per interval; the client retries. */
  const unavailable = (c: Context, error: Error) =>
    refuse(c, 503, [{
      Text: `the engine cannot store messages now (${error.message}); retry later`,
    }], {
      "Retry-After": "5",
    });

  app.onError((error, c) => {
    if (storeUnavailable(error)) return unavailable(c, error);
    log.error("endpoint.failed", { ip: peerIp(c), error });
    return refuse(c, 500, [{ Text: "internal error" }]);
  });

  return app;
}

/** Whether `c` is a `POST /query` (or a wrong method on it) whose client prefers FHIR answers. */
function wantsFhir(c: Context): boolean {
  return c.req.path === QUERY_PATH && prefersFhir(c.req.header("accept"));
}

/** Bodies taken as they are: X12 (`application/edi-x12`) and XML (a C-CDA). */
const DOCUMENT_TYPE = /^(application\/(edi-x12|x12)|(application|text)\/([\w.-]+\+)?xml)\s*(;|$)/i;

/** Whether a message is a query (`Meta.DataModel` PatientSearch), answered synchronously. */
function isQuery(json: unknown): boolean {
  if (typeof json !== "object" || json === null) return false;
  const meta = (json as Record<string, unknown>).Meta;
  return typeof meta === "object" && meta !== null &&
    (meta as Record<string, unknown>).DataModel === QUERY_MODEL;
}

/** The store's `StoreUnavailableError` (by name: transports do not import the store). */
function storeUnavailable(error: unknown): error is Error {
  return error instanceof Error && error.name === "StoreUnavailableError";
}

function problemError(p: ApiProblem): EndpointError {
  return p.path === "" ? { Text: p.rule } : { Text: p.rule, Path: p.path };
}

/** The credential of `Authorization: Bearer <token>`, or why there is none. */
function bearerToken(header: string | undefined): string | { error: string } {
  const value = header?.trim() ?? "";
  if (value === "") {
    return { error: "no access token: send Authorization: Bearer <token from /v2/auth/token>" };
  }
  const m = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(value);
  if (!m) return { error: "the Authorization header must be Bearer <access token>" };
  return m[1]!;
}
