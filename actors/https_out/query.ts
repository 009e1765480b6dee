/**
 * One synchronous request to an HTTPS destination (a query): `POST` of the JSON (or, for a FHIR
 * server, `GET` of a search URL) with the
 * `verification-token` header and the destination's credentials, and its answer whatever the
 * status. A `401` drops a cached token and the request is made once more with a fresh one, since
 * the caller is waiting and a retry later is not an option. A production destination that is not
 * verified is asked nothing.
 * @module
 */

import { CredentialError, type CredentialStrategy, type HttpsConfig } from "./credentials/mod.ts";
import type { HttpResponse, HttpSender } from "./http_client.ts";
import { HttpSendError } from "./http_client.ts";
import { postHeaders } from "./post_headers.ts";
import { secretValues } from "./redact.ts";
import { isVerifiedFor, type VerificationStore } from "../store/verifications.ts";

/** One destination, as {@link httpsQuery} needs it. */
export interface HttpsQueryTarget {
  destinationId: string;
  https: HttpsConfig;
  credentials: CredentialStrategy;
  sender: HttpSender;
  requireVerification: boolean;
  verifications: VerificationStore;
}

/** The request. */
export interface HttpsQueryRequest {
  /** `GET` (a FHIR search: `url` is then required, `body` empty). Default `POST`. */
  method?: "POST" | "GET";
  /** Where the request goes, when not the destination's URL (`<base>/Patient?…`). */
  url?: string;
  /** Extra headers (`accept`), signed with the rest. */
  headers?: Record<string, string>;
  body: Uint8Array;
  contentType: string;
  /** Deadline of the whole exchange, token request included. */
  timeoutMs: number;
  /** The client going away. */
  signal: AbortSignal;
  /** Most bytes of the answer read into memory. */
  maxBodyBytes: number;
}

/** How the exchange ended. */
export type HttpsQueryResult =
  | {
    ok: true;
    response: HttpResponse;
    /** The credentials sent (redact.ts `secretValues`): an answer may echo them. */
    secrets: string[];
  }
  | {
    ok: false;
    /** `unverified`: a production destination not verified yet; `credentials`: no token. */
    kind: "unverified" | "credentials" | "timeout" | "network" | "aborted";
    reason: string;
  };

/** Sends the request; never rejects for a failure of the exchange itself. */
export async function httpsQuery(
  target: HttpsQueryTarget,
  request: HttpsQueryRequest,
): Promise<HttpsQueryResult> {
  const { destinationId, https, credentials, sender } = target;
  if (
    target.requireVerification &&
    !isVerifiedFor(await target.verifications.get(destinationId), https.url)
  ) {
    return {
      ok: false,
      kind: "unverified",
      reason: `destination ${destinationId} is not verified ` +
        `(POST /admin/destinations/${destinationId}/verify)`,
    };
  }
  const deadline = AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]);
  const started = performance.now();
  for (let attempt = 1;; attempt++) {
    let headers: Record<string, string>;
    try {
      headers = await postHeaders({
        https,
        credentials,
        contentType: request.contentType,
        body: request.body,
        signal: deadline,
        ...(request.method ? { method: request.method } : {}),
        ...(request.url ? { url: request.url } : {}),
        ...(request.headers ? { headers: request.headers } : {}),
      });
    } catch (error) {
      if (deadline.aborted) return stopped(request.signal);
      if (error instanceof CredentialError) {
        return { ok: false, kind: "credentials", reason: `credentials: ${error.message}` };
      }
      throw error;
    }
    let response: HttpResponse;
    try {
      response = await sender.send({
        url: request.url ?? https.url,
        method: request.method ?? "POST",
        headers,
        ...(request.method === "GET" ? {} : { body: request.body }),
        timeoutMs: Math.max(1, request.timeoutMs - (performance.now() - started)),
        signal: request.signal,
        maxBodyBytes: request.maxBodyBytes,
      });
    } catch (error) {
      if (error instanceof HttpSendError) {
        if (error.kind === "aborted") return stopped(request.signal);
        return { ok: false, kind: error.kind, reason: error.message };
      }
      throw error;
    }
    const fetchesTokens = credentials.type !== "token" && credentials.type !== "aws-sigv4";
    if (response.status === 401 && attempt === 1 && fetchesTokens) {
      credentials.invalidate();
      continue;
    }
    return { ok: true, response, secrets: secretValues(headers) };
  }
}

function stopped(client: AbortSignal): HttpsQueryResult {
  return client.aborted
    ? { ok: false, kind: "aborted", reason: "the client went away" }
    : { ok: false, kind: "timeout", reason: "no answer in time" };
}
