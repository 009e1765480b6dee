/**
 * The interface HTTPS delivery needs from a transport: send one request, get its status, headers
 * and a bounded piece of its body. `main.ts` injects the `fetch` implementation from
 * `transports/https/`; tests inject the same one (or fakes) through this interface.
 * @module
 */

/** One request to send. */
export interface HttpRequest {
  url: string;
  method: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /**
   * A large body comes as a `Blob` of the same bytes (see `large_body.ts`): `fetch` sends it with
   * `content-length`, a part at a time, instead of in one go from the event loop.
   */
  body?: Uint8Array | string | Blob;
  /** Deadline for the whole exchange: connect, send, status and reading the body. */
  timeoutMs: number;
  /** Aborts the exchange (engine stop, operator skip). */
  signal?: AbortSignal;
  /** Read at most this many bytes of the response body (default {@link DEFAULT_MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
  /**
   * Keep nothing of a 2xx answer's body (`body` is then empty): a delivery only needs the status
   * when it succeeds. The body is still read to its end (or the bound): a 2xx whose body does not
   * end is not an answer the receiver finished.
   */
  discardSuccessBody?: boolean;
}

/** The answer, whatever its status: redirects are not followed, 3xx comes back as is. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The body decoded as UTF-8, at most `maxBodyBytes` of it. */
  body: string;
  /** True when the body was longer than `maxBodyBytes` and the rest was not read. */
  truncated: boolean;
}

/** Why no response came. */
export type HttpSendErrorKind = "timeout" | "network" | "aborted";

/**
 * A request that got no whole HTTP response: the deadline passed, the network failed, or it was
 * aborted (before the status, or while the body was read).
 */
export class HttpSendError extends Error {
  /** What went wrong. */
  readonly kind: HttpSendErrorKind;

  /**
   * An error of `kind`; `message` says what happened. It never holds a request header's value; it
   * may quote the start of an answer's body that did not end, with the request's credentials
   * replaced by `[redacted]`.
   */
  constructor(kind: HttpSendErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpSendError";
    this.kind = kind;
  }
}

/** Default bound on a response body read into memory. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** Sends HTTP requests. */
export interface HttpSender {
  /** Resolves with any HTTP response (2xx or not); rejects only with an {@link HttpSendError}. */
  send(request: HttpRequest): Promise<HttpResponse>;
}

/**
 * A short one-line description of a response for logs and attempts: status, the redirect target
 * when there is one, and at most `max` characters of the body with whitespace collapsed.
 */
export function describeResponse(response: HttpResponse, max = 256): string {
  const parts = [`HTTP ${response.status}`];
  const location = response.headers.get("location");
  if (response.status >= 300 && response.status < 400 && location) {
    parts.push(`redirect to ${location} (redirects are not followed)`);
  }
  const text = bodySnippet(response, max);
  if (text) parts.push(text);
  return parts.join(": ");
}

/** At most `max` characters of the body with whitespace collapsed, `…` when cut. */
export function bodySnippet(response: HttpResponse, max = 256): string {
  const text = response.body.replace(/\s+/g, " ").trim();
  // Cut by code points so a snippet never ends in half a surrogate pair.
  const head = Array.from(text.slice(0, max * 2)).slice(0, max).join("");
  return head.length < text.length || (response.truncated && head) ? `${head}…` : head;
}
