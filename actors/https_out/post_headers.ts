/**
 * The headers of every `POST` to an HTTPS destination (a delivery or a query): the content type,
 * `verification-token`, and what the credential strategy adds (a bearer token, a signature over
 * all of it).
 * @module
 */

import type { CredentialStrategy, HttpsConfig } from "./credentials/mod.ts";

/** What {@link postHeaders} signs. */
export interface PostOptions {
  https: HttpsConfig;
  credentials: CredentialStrategy;
  contentType: string;
  body: Uint8Array;
  /** Where the request goes, when not `https.url` (a FHIR server's `$process-message`). */
  url?: string;
  /** `GET` for a FHIR search (no body, no content type). Default `POST`. */
  method?: "POST" | "GET";
  /** Extra headers, signed with the rest (`accept`). */
  headers?: Record<string, string>;
  /** Aborts a token request made on the way. */
  signal?: AbortSignal;
}

/**
 * Every header of the request (lower-case names).
 * @throws {CredentialError} when the credentials cannot be had.
 */
export async function postHeaders(options: PostOptions): Promise<Record<string, string>> {
  const { https, credentials, body } = options;
  const method = options.method ?? "POST";
  const headers: Record<string, string> = {
    ...options.headers,
    ...(method === "POST" ? { "content-type": options.contentType } : {}),
    "verification-token": https.verificationToken.reveal(),
  };
  const auth = await credentials.apply({
    method,
    url: options.url ?? https.url,
    headers,
    body,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...headers, ...auth };
}
