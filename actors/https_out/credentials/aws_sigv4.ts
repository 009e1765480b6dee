/**
 * AWS Signature Version 4, signed by the `aws4` library over the method, URL, headers and body of
 * each request (and `x-amz-security-token` for temporary credentials). A large body's SHA-256 is
 * computed here a step at a time and handed to aws4, so signing never holds the engine's thread
 * for long. Nothing is cached: every request gets its own signature, so there is nothing to
 * invalidate on a 401/403.
 * @module
 */

// @ts-types="@types/aws4"
import aws4 from "aws4";
import type { Clock } from "../../runtime/clock.ts";
import type { AuthOf, CredentialInfo, CredentialStrategy, OutgoingRequest } from "./strategy.ts";
import { CredentialError } from "./strategy.ts";
import { errorMessage } from "../../runtime/errors.ts";
import { LARGE_BODY_BYTES, sha256Hex } from "../large_body.ts";

/** Headers `fetch` sets itself from the URL and body; sending them twice is refused. */
const SET_BY_FETCH = new Set(["host", "content-length"]);
/** The header that carries the body's SHA-256 (hex) to aws4, and to S3. */
const CONTENT_SHA256 = "x-amz-content-sha256";

/** Signs requests with the access key of an `auth` of type `aws-sigv4`. */
export class AwsSigV4Strategy implements CredentialStrategy {
  /** Always `aws-sigv4`. */
  readonly type = "aws-sigv4";
  readonly #auth: AuthOf<"aws-sigv4">;
  readonly #clock: Clock;

  /** A signer for `auth`; the signing time comes from `clock`. */
  constructor(auth: AuthOf<"aws-sigv4">, clock: Clock) {
    this.#auth = auth;
    this.#clock = clock;
  }

  /**
   * `authorization`, `x-amz-date` (and `x-amz-security-token`, `x-amz-content-sha256`). A body of
   * {@link LARGE_BODY_BYTES} or more is hashed first, in steps between pauses (aws4 would hash it
   * in one go on the engine's thread); the signature and headers are those aws4 gives when it
   * hashes the body itself.
   */
  async apply(request: OutgoingRequest): Promise<Record<string, string>> {
    const url = new URL(request.url);
    const auth = this.#auth;
    // The signing time from the injected clock rather than aws4's own `new Date()`.
    const headers: Record<string, string> = {
      ...request.headers,
      "x-amz-date": amzDate(this.#clock.now()),
    };
    const body = request.body;
    const hashFirst = body instanceof Uint8Array && body.length >= LARGE_BODY_BYTES &&
      !(CONTENT_SHA256 in headers);
    // aws4 takes a body hash given as `x-amz-content-sha256` instead of hashing the body.
    if (hashFirst) headers[CONTENT_SHA256] = await sha256Hex(body, request.signal);
    let signed;
    let hashOnly = false;
    try {
      const signer = new aws4.RequestSigner({
        host: url.host,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        service: auth.service,
        region: auth.region,
        headers,
        // aws4 hashes strings as UTF-8 and bytes as they are; both match what fetch sends.
        body: body as string,
      }, {
        accessKeyId: auth.accessKeyId.reveal(),
        secretAccessKey: auth.secretAccessKey.reveal(),
        ...(auth.sessionToken ? { sessionToken: auth.sessionToken.reveal() } : {}),
      });
      // For S3, aws4 adds this header itself and signs it: the one given here is the same.
      // Elsewhere aws4 would neither sign nor send it: here it only carries the hash, so it is
      // left out of the signed headers and of the request.
      hashOnly = hashFirst && signer.service !== "s3";
      if (hashOnly) {
        (signer as unknown as { extraHeadersToIgnore: Record<string, boolean> })
          .extraHeadersToIgnore[CONTENT_SHA256] = true;
      }
      signed = signer.sign();
    } catch (error) {
      const why = errorMessage(error);
      throw new CredentialError(`AWS SigV4 signing failed: ${why}`, { cause: error });
    }
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers ?? {})) {
      const lower = name.toLowerCase();
      if (SET_BY_FETCH.has(lower) || value === undefined) continue;
      if (hashOnly && lower === CONTENT_SHA256) continue;
      // Only what aws4 added or changed; the request's own headers are already on it.
      if (request.headers[lower] === String(value)) continue;
      out[lower] = String(value);
    }
    return out;
  }

  /** Nothing cached. */
  invalidate(): void {}

  /** `{type: "aws-sigv4"}`. */
  info(): CredentialInfo {
    return { type: this.type };
  }
}

/** `YYYYMMDD'T'HHMMSS'Z'` (ISO 8601 basic format, UTC). */
function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}
