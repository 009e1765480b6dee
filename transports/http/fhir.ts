/**
 * The FHIR API: `POST /fhir/R4/$process-message` and `POST /fhir/R4/Bundle` take a FHIR R4
 * message Bundle, on the same tokens, limits, rate limit and logs as `POST /endpoint`, in the
 * same order (rate limit, token before any of the body, media type, size, nesting depth, JSON;
 * an object naming a key twice is a `400` naming the key and its JSON path).
 * A bundle of more than `limits.maxFhirBundleEntries` entries (1,000 by default; its own
 * entries, not those of bundles inside it) is refused with a `413` before it is validated. The
 * bundle is validated against the R4 definitions (@medplum/core), a few entries at a time with
 * the event loop let run in between (timers, other requests, MLLP and lease renewals go on),
 * converted to the data model by the FHIR tables, and handed to the same {@link ApiInbox} as
 * `/endpoint`: same validation, routing, storage and logs. Answers are `application/fhir+json`: an
 * OperationOutcome, whose issues carry FHIRPath locations (`Bundle.entry[1].resource.birthDate`)
 * for refusals. Bodies are taken uncompressed: a `Content-Encoding` other than `identity` is a 415.
 * A bundle larger than the inbox's `largeJsonBytes` (the planning thread's 32 KiB) is parsed,
 * counted, validated, converted and planned on the engine's planning thread (large_json.ts,
 * actors/engine/api_large_fhir.ts), with the same answers; a VXU^V04 bundle, or any when no
 * thread can be started, is taken here.
 * Every refusal is logged (warn): `fhir.rate-limited`, `fhir.unauthorized`, `fhir.body-timeout`,
 * `fhir.body-failed`, `fhir.too-large`, `fhir.too-deep`, `fhir.too-many-entries`, `fhir.unmapped`,
 * and `fhir.invalid` for the rest below 500 (the route, the status, the first issue cut to 300
 * characters and how many issues; never the body).
 *
 * @module
 */

import { charsetRefusal, foreignCharset } from "./charset.ts";
import { type Context, Hono } from "hono";
import type {
  ApiAcceptResult,
  ApiInbox,
  ApiRequest,
  LimitsConfig,
  Logger,
} from "../../actors/ports.ts";
import {
  FhirError,
  type FhirIssue,
  fhirToModel,
  isVxuBundle,
  operationOutcome,
} from "../../codecs/fhir/mod.ts";
import { MAX_LISTED_ISSUES, notListedNote } from "../../codecs/datamodel/mod.ts";
import { locateInBundle } from "../../codecs/fhir/locate.ts";
import { fhirBundleEntryCount, validateFhirBundleAsync } from "../../codecs/fhir/validate.ts";
import type { AccessTokenVerifier } from "./access_token.ts";
import { BodyTimeoutError, readLimited } from "./body.ts";
import { type EndpointAppOptions, requestLimits } from "./endpoint.ts";
import { JsonDepthScanner } from "./json_depth.ts";
import { parseJsonBytes } from "./json_parse.ts";
import { largeJsonInbox } from "./large_json.ts";
import { peerIp } from "./peer.ts";
import type { RateLimiter } from "./rate_limit.ts";
import { codeOf } from "./fhir_outcome.ts";
import { sendBody } from "./respond.ts";
import { clip } from "./clip.ts";
import { BodyFramingError } from "./node_bridge.ts";
import { AUTH_LOG_BURST, PeerLog } from "./peer_log.ts";

/** The FHIR base path. */
export const FHIR_BASE = "/fhir/R4";

/** `limits.maxFhirBundleEntries` when the options leave it out. */
export const DEFAULT_MAX_FHIR_BUNDLE_ENTRIES = 1000;

const encoder = new TextEncoder();

/**
 * The issues an answer lists: the first `MAX_LISTED_ISSUES` (as `/endpoint` lists problems), then
 * the next one saying how many were left out. A Bundle wrong at each of 60,000 elements was
 * answered with every issue: 10 MB from a 780 KB body.
 */
function listed(issues: FhirIssue[]): FhirIssue[] {
  if (issues.length <= MAX_LISTED_ISSUES + 1) return issues;
  const next = issues[MAX_LISTED_ISSUES]!;
  return [...issues.slice(0, MAX_LISTED_ISSUES), {
    ...next,
    text: next.text + notListedNote(issues.length - MAX_LISTED_ISSUES - 1, "issues"),
  }];
}
const FHIR_JSON = "application/fhir+json";

/** What {@link createFhirApp} is built from: what `/endpoint` is built from. */
export interface FhirAppOptions {
  tokens: AccessTokenVerifier;
  inbox: ApiInbox;
  /** `/endpoint`'s, and the most entries a Bundle may have (1,000 when absent). */
  limits: EndpointAppOptions["limits"] & Partial<Pick<LimitsConfig, "maxFhirBundleEntries">>;
  /** Shared with `/endpoint`, so that both count against one per-IP limit. */
  rateLimiter?: RateLimiter;
  log: Logger;
}

/** Who a refusal is logged for: the client's address, its source once known, the route. */
interface Who {
  ip: string;
  source: string | undefined;
  route: string;
}

type Status = 200 | 400 | 401 | 403 | 404 | 405 | 408 | 413 | 415 | 422 | 429 | 500 | 503;

/** The FHIR app (see the module doc). */
export function createFhirApp(options: FhirAppOptions): Hono {
  const { tokens, inbox, log } = options;
  // Refused before the client authenticates: throttled per address (peer_log.ts).
  const rateLog = new PeerLog(log);
  const authLog = new PeerLog(log, { burst: AUTH_LOG_BURST });
  const { maxBytes, maxDepth, limiter } = requestLimits(options);
  const large = largeJsonInbox(inbox);
  const maxEntries = options.limits.maxFhirBundleEntries ?? DEFAULT_MAX_FHIR_BUNDLE_ENTRIES;
  const app = new Hono();

  const answer = (
    c: Context,
    status: Status,
    issues: FhirIssue[],
    headers: Record<string, string> = {},
  ) =>
    sendBody(c, encoder.encode(JSON.stringify(operationOutcome(listed(issues)))), status, {
      "Content-Type": FHIR_JSON,
      "Cache-Control": "no-store",
      ...headers,
    });
  const refuse = (c: Context, status: Status, text: string, headers?: Record<string, string>) =>
    answer(c, status, [{ path: "", text, code: codeOf(status) }], headers);
  /**
   * Refuses a request whose message (not its transport) is wrong, with one `fhir.invalid` line
   * naming the source and the first issue (cut: an issue may quote the request), never the body.
   * A 5xx is only answered: the engine logged it.
   */
  const invalid = (
    c: Context,
    who: Who,
    status: Status,
    issues: FhirIssue[],
    headers: Record<string, string> = {},
  ) => {
    if (status < 500) {
      const first = issues[0];
      log.warn("fhir.invalid", {
        ip: who.ip,
        source: who.source,
        route: who.route,
        status,
        problem: first ? clip(first.path ? `${first.path}: ${first.text}` : first.text) : undefined,
        issues: issues.length,
      });
    }
    return answer(c, status, issues, headers);
  };
  /** {@link invalid} with one issue that has no place in the bundle. */
  const invalidText = (c: Context, who: Who, status: Status, text: string) =>
    invalid(c, who, status, [{ path: "", text, code: codeOf(status) }]);

  const post = async (c: Context, route: string) => {
    const ip = peerIp(c);
    const verdict = limiter.take(ip);
    c.header("X-RateLimit-Limit", String(verdict.limit));
    c.header("X-RateLimit-Remaining", String(verdict.remaining));
    if (!verdict.allowed) {
      await c.req.raw.body?.cancel().catch(() => {});
      rateLog.warn("fhir.rate-limited", ip, { ip, limit: verdict.limit });
      return refuse(c, 429, `more than ${verdict.limit} requests from ${ip}; retry later`, {
        "Retry-After": String(verdict.retryAfterSeconds),
      });
    }
    const bearer = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(c.req.header("authorization") ?? "");
    const checked = bearer
      ? await tokens.verify(bearer[1] as string)
      : { ok: false as const, error: "no access token: send Authorization: Bearer <token>" };
    if (!checked.ok) {
      await c.req.raw.body?.cancel().catch(() => {});
      authLog.warn("fhir.unauthorized", ip, { ip, why: checked.error });
      return refuse(c, 401, checked.error, { "WWW-Authenticate": "Bearer" });
    }
    const who: Who = { ip, source: checked.sourceId, route };
    const type = c.req.header("content-type");
    if (type !== undefined && !/^application\/(fhir\+)?json\s*(;|$)/i.test(type)) {
      await c.req.raw.body?.cancel().catch(() => {});
      return invalidText(
        c,
        who,
        415,
        `Content-Type must be ${FHIR_JSON}; got ${JSON.stringify(clip(type))}`,
      );
    }
    const charset = foreignCharset(type);
    if (charset !== undefined) {
      await c.req.raw.body?.cancel().catch(() => {});
      return invalidText(c, who, 415, charsetRefusal(charset));
    }
    // Bodies are read as they are: a compressed one would only fail later as "not UTF-8".
    const encoding = c.req.header("content-encoding")?.trim();
    if (encoding && !/^identity$/i.test(encoding)) {
      await c.req.raw.body?.cancel().catch(() => {});
      return invalidText(
        c,
        who,
        415,
        `Content-Encoding ${clip(encoding)} is not supported; send the body uncompressed`,
      );
    }
    const depth = new JsonDepthScanner(maxDepth);
    let body: Awaited<ReturnType<typeof readLimited>>;
    try {
      body = await readLimited(c.req.raw, maxBytes, (chunk) => depth.feed(chunk));
    } catch (error) {
      if (error instanceof BodyTimeoutError) {
        log.warn("fhir.body-timeout", { ip, source: checked.sourceId, seconds: error.seconds });
        return refuse(c, 408, error.message, { Connection: "close" });
      }
      // The client went away mid-body, or broke the body's framing (a BodyFramingError: the
      // answer goes out, then the connection closes), as on POST /endpoint.
      log.warn("fhir.body-failed", { ip, source: checked.sourceId, error });
      const why = error instanceof BodyFramingError ? `: ${error.message}` : "";
      return refuse(c, 400, `the body could not be read to its end${why}`, {
        Connection: "close",
      });
    }
    if (!body.ok) {
      log.warn("fhir.too-large", { ip, source: checked.sourceId, limit: body.limit });
      return refuse(c, 413, `the body is larger than the limit of ${maxBytes} bytes`, {
        Connection: "close",
      });
    }
    const nested = depth.result;
    if (!nested.ok) {
      log.warn("fhir.too-deep", { ip, source: checked.sourceId, limit: maxDepth });
      return refuse(
        c,
        400,
        `the JSON is nested more than ${maxDepth} levels deep at ${nested.path}`,
      );
    }
    const vxuInbox = inbox.acceptFhirVxu?.bind(inbox);
    const tooMany = (entries: number) => {
      log.warn("fhir.too-many-entries", {
        ip,
        source: checked.sourceId,
        entries,
        limit: maxEntries,
      });
      return answer(c, 413, [{
        path: "Bundle.entry",
        text: `the Bundle has ${entries} entries, more than the limit of ${maxEntries} ` +
          `(limits.maxFhirBundleEntries)`,
        code: codeOf(413),
      }]);
    };
    const unmapped = (why: string, issues: FhirIssue[]) => {
      log.warn("fhir.unmapped", { ip, source: checked.sourceId, why: clip(why) });
      return answer(c, 400, issues);
    };
    // A large bundle is parsed, validated, converted and planned off the engine's thread, each
    // answer as below (large_json.ts).
    if (large?.acceptLargeFhir && body.bytes.byteLength > large.largeJsonBytes) {
      const taken = await large.acceptLargeFhir({
        sourceId: checked.sourceId,
        environment: checked.environment,
        bytes: body.bytes,
        peerIp: ip,
        keysMayRepeat: depth.mayRepeatKeys,
        maxEntries,
        vxu: vxuInbox !== undefined,
      });
      switch (taken.kind) {
        case "invalid-json":
          return invalidText(c, who, 400, taken.error);
        case "too-many-entries":
          return tooMany(taken.entries);
        case "invalid":
          return invalid(c, who, 400, taken.issues);
        case "unmapped":
          return unmapped(taken.error, taken.issues);
        case "answered": {
          const located = new Map(taken.located);
          return outcomeOf(c, taken.result, (p) => located.get(p.path) ?? "Bundle", who);
        }
      }
    }
    // An object naming a key twice is refused too; checked in full only when the depth scan
    // saw a sign of it.
    const parsed = parseJsonBytes(body.bytes, { keysMayRepeat: depth.mayRepeatKeys });
    if (!parsed.ok) return invalidText(c, who, 400, parsed.error);
    const bundle = parsed.value;
    // Validation costs up to a few milliseconds an entry: bounded before it starts.
    const entries = fhirBundleEntryCount(bundle);
    if (entries > maxEntries) return tooMany(entries);

    const issues = await validateFhirBundleAsync(bundle);
    if (issues.length > 0) return invalid(c, who, 400, issues);
    // VXU^V04 has no data model: the engine writes it as HL7 itself (api_vxu.ts).
    // The inbox stores before it answers; when it throws, nothing was acknowledged: try again.
    const store = async (
      accept: (request: ApiRequest) => Promise<ApiAcceptResult>,
      json: unknown,
      bytes: Uint8Array,
    ): Promise<ApiAcceptResult | Response> => {
      try {
        const { sourceId, environment } = checked;
        return await accept({ sourceId, environment, json, bytes, peerIp: ip });
      } catch (error) {
        log.error("fhir.inbox-failed", { ip, source: checked.sourceId, error });
        return refuse(c, 500, "the message could not be stored: try again");
      }
    };
    if (isVxuBundle(bundle) && vxuInbox !== undefined) {
      const vxu = await store(vxuInbox, bundle, body.bytes);
      if (vxu instanceof Response) return vxu;
      // A 400 is a bundle fhirToVxu cannot write: its own line, like fhirToModel's below.
      if (!vxu.ok && vxu.status === 400) {
        log.warn("fhir.unmapped", { ip, source: checked.sourceId, why: clip(vxu.error) });
        return outcomeOf(c, vxu, (p) => p.path);
      }
      return outcomeOf(c, vxu, (p) => p.path, who);
    }
    let dm;
    try {
      dm = fhirToModel(bundle);
    } catch (error) {
      if (!(error instanceof FhirError)) throw error;
      return unmapped(error.message, error.issues);
    }
    const result = await store(
      (request) => inbox.accept(request),
      dm,
      encoder.encode(JSON.stringify(dm)),
    );
    if (result instanceof Response) return result;
    return outcomeOf(c, result, (p) => locateInBundle(dm.Meta.DataModel, bundle, p.path), who);
  };

  /**
   * The inbox's answer as an OperationOutcome; `locate` gives a problem's FHIRPath. A refusal is
   * logged as `fhir.invalid` for `who`; without `who`, the caller logged it.
   */
  const outcomeOf = (
    c: Context,
    result: ApiAcceptResult,
    locate: (p: { path: string; rule: string }) => string,
    who?: Who,
  ) => {
    if (result.ok) {
      return answer(c, 200, [{
        path: "",
        text: `accepted: ${JSON.stringify(result.body)}`,
        code: "informational",
        severity: "information",
      }]);
    }
    const located = (result.problems ?? []).map((p) => ({
      path: locate(p),
      text: p.path === "" || p.path === locate(p) ? p.rule : `${p.path}: ${p.rule}`,
      code: codeOf(result.status),
    }));
    const respond = (
      status: Status,
      issues: FhirIssue[],
      headers: Record<string, string>,
    ) => who ? invalid(c, who, status, issues, headers) : answer(c, status, issues, headers);
    return respond(
      result.status,
      located.length > 0
        ? located
        : [{ path: "", text: result.error, code: codeOf(result.status) }],
      result.retryAfterSeconds !== undefined
        ? { "Retry-After": String(Math.max(1, Math.ceil(result.retryAfterSeconds))) }
        : {},
    );
  };

  for (const route of [`${FHIR_BASE}/$process-message`, `${FHIR_BASE}/Bundle`]) {
    app.post(route, (c) => post(c, route));
    app.all(route, (c) => {
      const who = { ip: peerIp(c), source: undefined, route };
      return invalid(c, who, 405, [{
        path: "",
        text: `use POST, not ${c.req.method}`,
        code: codeOf(405),
      }], { Allow: "POST" });
    });
  }
  app.onError((error, c) => {
    log.error("fhir.failed", { ip: peerIp(c), error });
    return refuse(c, 500, "internal error");
  });
  return app;
}
