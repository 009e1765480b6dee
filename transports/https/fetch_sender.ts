/**
 * The HTTP sender of HTTPS destinations and token endpoints, on `fetch`: one deadline for the whole
 * exchange, the caller's abort signal, a bounded read of the answer (the rest of the stream is
 * cancelled), redirects never followed (credentials must not travel to another URL), and an
 * optional `Deno.HttpClient` that trusts extra CA certificates.
 * @module
 */

import type { HttpRequest, HttpResponse, HttpSender } from "../../actors/ports.ts";
import { DEFAULT_MAX_BODY_BYTES, errorMessage, HttpSendError } from "../../actors/mod.ts";

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
      let read;
      try {
        read = discard ? await drop(response) : await readBounded(response, max);
      } catch (error) {
        throw failure(error);
      }
      return {
        status: response.status,
        headers: response.headers,
        body: decoder.decode(read.bytes),
        truncated: read.truncated,
      };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Releases the HTTP client (and its pooled connections). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client?.close();
  }
}

/** Cancels the body unread. */
async function drop(response: Response): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  await response.body?.cancel();
  return { bytes: new Uint8Array(0), truncated: false };
}

/** At most `max` bytes of the body; the rest of the stream is cancelled, not read. */
async function readBounded(
  response: Response,
  max: number,
): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  // Fast path: a declared length within the bound is read whole (the framing enforces it).
  // Checked before touching `response.body`, which would turn the body into a slower JS stream.
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared <= max) {
    return { bytes: new Uint8Array(await response.arrayBuffer()), truncated: false };
  }
  if (!response.body) return { bytes: new Uint8Array(0), truncated: false };
  // The reader is never released: the response is dropped afterwards, and releaseLock() costs
  // more than the read itself on a small answer.
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = max - size;
    if (value.length > room) {
      chunks.push(value.subarray(0, room));
      size += room;
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
    size += value.length;
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  return { bytes, truncated };
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
