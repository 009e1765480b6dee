/**
 * The HTTP sender of HTTPS destinations and token endpoints, on `fetch`: one deadline for the whole
 * exchange, the caller's abort signal, a bounded read of the answer (the rest of the stream is
 * cancelled), redirects never followed (credentials must not travel to another URL), and an
 * optional `Deno.HttpClient` that trusts extra CA certificates. An answer whose body does not end
 * (the deadline passes or the connection breaks after the status came) is an
 * {@link IncompleteAnswerError} naming the status and what was read, even for a 2xx: the receiver
 * may not have finished.
 * @module
 */

import type { HttpRequest, HttpResponse, HttpSender } from "../../actors/ports.ts";
import {
  DEFAULT_MAX_BODY_BYTES,
  errorMessage,
  HttpSendError,
  redact,
  secretValues,
} from "../../actors/mod.ts";

/** How to build a {@link FetchSender}. */
export interface FetchSenderOptions {
  /** PEM CA certificates to trust besides the system's (a private CA, tests). */
  caCerts?: string[];
  /** The `user-agent` header, unless a request sets its own. */
  userAgent?: string;
}

const decoder = new TextDecoder();

/** See the module doc. */
export class FetchSender implements HttpSender {
  readonly #client: Deno.HttpClient | undefined;
  readonly #userAgent: string | undefined;
  #closed = false;
  /** The last URL made safe for messages: a destination sends to one URL again and again. */
  #safe = { url: "", safe: "" };

  /** A sender; with `caCerts` it owns an HTTP client that must be released with {@link close}. */
  constructor(options: FetchSenderOptions = {}) {
    this.#client = options.caCerts?.length
      ? Deno.createHttpClient({ caCerts: options.caCerts })
      : undefined;
    this.#userAgent = options.userAgent;
  }

  /** Sends `request`; see {@link HttpSender.send}. */
  async send(request: HttpRequest): Promise<HttpResponse> {
    if (this.#closed) throw new HttpSendError("aborted", "the HTTP sender is closed");
    if (this.#safe.url !== request.url) {
      this.#safe = { url: request.url, safe: safeUrl(request.url) };
    }
    const where = this.#safe.safe;
    if (request.signal?.aborted) throw new HttpSendError("aborted", `${where}: aborted`);
    // One controller for the deadline and the caller's signal: cheaper than AbortSignal.any on
    // every request, and the listener is removed when the exchange ends.
    const control = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      control.abort();
    }, request.timeoutMs);
    const onAbort = () => control.abort();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    const failure = (error: unknown): HttpSendError => {
      if (timedOut) {
        return new HttpSendError(
          "timeout",
          `no answer from ${where} within ${request.timeoutMs / 1000} s`,
          { cause: error },
        );
      }
      if (request.signal?.aborted) return new HttpSendError("aborted", `${where}: aborted`);
      return new HttpSendError("network", `${where}: ${errorText(error, request.url)}`, {
        cause: error,
      });
    };
    try {
      const headers = this.#userAgent && !("user-agent" in request.headers)
        ? { ...request.headers, "user-agent": this.#userAgent }
        : request.headers;
      let response: Response;
      try {
        response = await fetch(request.url, {
          method: request.method,
          headers,
          // Payloads come from KV reads: plain ArrayBuffer-backed bytes, which fetch takes.
          ...(request.body !== undefined ? { body: request.body as BodyInit } : {}),
          redirect: "manual",
          signal: control.signal,
          ...(this.#client ? { client: this.#client } : {}),
        });
      } catch (error) {
        throw failure(error);
      }
      const max = request.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      const discard = request.discardSuccessBody && response.status >= 200 &&
        response.status < 300;
      // Read to the end (or the bound) even when the body is dropped: a 2xx whose body does not
      // end is not an answer the receiver finished.
      const read = await readBounded(response, max);
      if (!read.ended) {
        if (!timedOut && request.signal?.aborted) throw failure(read.error);
        throw this.#incomplete(request, where, response, read, timedOut);
      }
      return {
        status: response.status,
        headers: response.headers,
        body: discard ? "" : decoder.decode(read.bytes),
        truncated: discard ? false : read.truncated,
      };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The error for an answer whose status came but whose body did not end (the deadline passed or
   * the connection broke): it names the status and what was read, which the caller logs.
   */
  #incomplete(
    request: HttpRequest,
    where: string,
    response: Response,
    read: BodyRead,
    timedOut: boolean,
  ): IncompleteAnswerError {
    const status = response.status;
    const why = timedOut
      ? `within ${request.timeoutMs / 1000} s`
      : `: ${errorText(read.error, request.url)}`;
    const text = snippet(read.bytes, request.headers);
    const got = `${read.bytes.length} byte${read.bytes.length === 1 ? "" : "s"} read` +
      (text ? `: ${JSON.stringify(text)}` : "");
    const success = status >= 200 && status < 300
      ? ", so it is not taken as a success: the receiver may not have finished"
      : "";
    return new IncompleteAnswerError(
      timedOut ? "timeout" : "network",
      `HTTP ${status} from ${where}, but its body did not end${
        timedOut ? " " : ""
      }${why} (${got})${success}`,
      {
        status,
        headers: response.headers,
        body: new TextDecoder().decode(read.bytes, { stream: true }),
        truncated: true,
      },
      { cause: read.error },
    );
  }

  /** Releases the HTTP client (and its pooled connections). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client?.close();
  }
}

/**
 * An answer whose status and headers came but whose body did not end, within the deadline
 * (`kind` "timeout") or before the connection broke ("network"). `response` holds what was read
 * (`truncated` is true: the rest never came); the message names the status and the first
 * characters read, without the values of the request's credential headers.
 */
export class IncompleteAnswerError extends HttpSendError {
  /** The status, the headers and the part of the body that came. */
  readonly response: HttpResponse;

  /** See the class doc. */
  constructor(
    kind: "timeout" | "network",
    message: string,
    response: HttpResponse,
    options?: ErrorOptions,
  ) {
    super(kind, message, options);
    this.name = "IncompleteAnswerError";
    this.response = response;
  }
}

/** What was read of a body: all of it, its first `max` bytes (`truncated`), or until `error`. */
interface BodyRead {
  bytes: Uint8Array;
  truncated: boolean;
  /** False when reading failed before the end (and before `max` bytes): see `error`. */
  ended: boolean;
  /** Why the body did not end (the deadline's abort, a broken connection). */
  error?: unknown;
}

/**
 * At most `max` bytes of the body, never more in memory; the rest of the stream is cancelled, not
 * read. When the body fails before it ends, what was read comes back with the error.
 */
async function readBounded(response: Response, max: number): Promise<BodyRead> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (!response.body || declared === 0) {
    await response.body?.cancel();
    return { bytes: new Uint8Array(0), truncated: false, ended: true };
  }
  // A BYOB reader costs about what `arrayBuffer()` does (a default reader costs twice as much),
  // and unlike it keeps what came before a failure. Reads go to `scratch` and are copied to
  // `kept`: a read that fails takes the buffer it was given with it.
  const reader = response.body.getReader({ mode: "byob" });
  // One byte past `max` tells a body longer than the bound from one exactly as long.
  const limit = max + 1;
  let scratch = new ArrayBuffer(Math.min(limit, declared > 0 ? declared + 1 : 16 * 1024));
  let kept = new Uint8Array(0);
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read(
        new Uint8Array(scratch, 0, Math.min(scratch.byteLength, limit - size)),
      );
      if (value) scratch = value.buffer as ArrayBuffer;
      if (done) break;
      if (size + value.length > kept.length) {
        const grown = new Uint8Array(
          Math.min(limit, Math.max(kept.length * 2, size + value.length, scratch.byteLength)),
        );
        grown.set(kept.subarray(0, size));
        kept = grown;
      }
      kept.set(value, size);
      size += value.length;
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    return { bytes: kept.subarray(0, size), truncated: false, ended: false, error };
  }
  if (size < limit) return { bytes: kept.subarray(0, size), truncated: false, ended: true };
  await reader.cancel().catch(() => {});
  return { bytes: kept.subarray(0, max), truncated: true, ended: true };
}

/**
 * At most 256 characters of `bytes` as text, whitespace collapsed, `…` when cut, with the values
 * of the request's credential headers (and an authorization's part after its scheme) replaced by
 * `[redacted]`: a receiver may quote the request in its answer.
 */
function snippet(bytes: Uint8Array, headers: Record<string, string>, max = 256): string {
  // `stream`: an incomplete character at the end is left out, not shown as U+FFFD.
  let text = redact(new TextDecoder().decode(bytes, { stream: true }), secretValues(headers));
  text = text.replace(/\s+/g, " ").trim();
  const head = Array.from(text.slice(0, max * 2)).slice(0, max).join("");
  return head.length < text.length ? `${head}…` : head;
}

/** The URL without its query and fragment (a GET verification carries the token in the query). */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * What went wrong, from the error and its causes (`fetch` says only "fetch failed" and puts the
 * reason in its cause), without the request URL (the caller names it, without its query).
 */
function errorText(error: unknown, url: string): string {
  const texts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 4; depth++) {
    const text = errorMessage(e);
    if (text && !/^fetch failed$/i.test(text)) texts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  const joined = texts.join(": ") || "fetch failed";
  return joined
    .replace(/error sending request for url \([^)]*\):\s*/g, "")
    .split(url).join("(url)");
}
