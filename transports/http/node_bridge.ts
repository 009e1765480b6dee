/**
 * Runs a fetch handler (`app.fetch` of Hono) on a `node:http` request: the request becomes a
 * `Request` whose body is pulled from the socket only as the handler reads it (a body that arrived
 * whole with its headers, as most API requests do, is handed over as the bytes Node holds), and
 * the `Response` is written back with backpressure.
 *
 * The body has a deadline: it must have arrived within `bodyTimeoutMs` of the headers. Past it,
 * a handler still reading gets a {@link BodyTimeoutError} from the stream (and answers 408); a
 * client still sending a body that was already answered is disconnected.
 *
 * The handler's `remoteAddr` is the client's: the TCP peer's, or, when the peer is one of
 * `trustedProxies`, the client its `X-Forwarded-For` names (forwarded_for.ts), the peer then
 * passed as `via`. A request with more than one `Host` header is answered `400` and the connection
 * closed (RFC 9112 §3.2; Node's parser keeps the first).
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../actors/ports.ts";
import { BodyTimeoutError, joinChunks } from "./body.ts";
import type { FetchHandler } from "./serve.ts";
import type { PeerLog } from "./peer_log.ts";
import { forwardedClient } from "./forwarded_for.ts";

/**
 * The request body broke HTTP/1.1 framing (a bad chunk size, no CRLF after a chunk's data, a chunk
 * size too large to be one): Node's parser refused it mid-body. The handler reading the body gets
 * this error; its answer goes out with `Connection: close` (see {@link refuseBodyFraming}).
 */
export class BodyFramingError extends Error {
  /** `what` says what was malformed, e.g. "malformed chunked encoding". */
  constructor(what: string) {
    super(what);
    this.name = "BodyFramingError";
  }
}

/** The body streams of requests being served, for {@link refuseBodyFraming}. */
const bodies = new WeakMap<IncomingMessage, BodyStream>();
/** Framing refused before the request's body stream was made (see {@link BodyStream}). */
const refusedEarly = new WeakMap<IncomingMessage, BodyFramingError>();

/**
 * Node's parser refused the body of the request `res` answers (the server's `clientError`):
 * unless that request was answered already or its body had arrived whole, the handler's read of
 * the body fails with a {@link BodyFramingError}, the answer it then writes carries
 * `Connection: close`, and the connection closes once it is written. Returns what was malformed,
 * or `undefined` when there is no answer to wait for (the caller closes the connection).
 */
export function refuseBodyFraming(res: ServerResponse): string | undefined {
  const req = res.req;
  if (!req || req.complete || res.headersSent || res.writableEnded || !res.socket?.writable) {
    return undefined;
  }
  res.shouldKeepAlive = false;
  const chunked = /\bchunked\b/i.test(String(req.headers["transfer-encoding"] ?? ""));
  const what = chunked ? "malformed chunked encoding" : "malformed body framing";
  const error = new BodyFramingError(what);
  const body = bodies.get(req);
  if (body) body.refuse(error);
  else refusedEarly.set(req, error);
  return what;
}

/** What {@link bridgeRequest} needs besides the request. */
export interface BridgeOptions {
  fetch: FetchHandler;
  /** `https://host:port` of the listener: the origin of every `Request.url`. */
  origin: string;
  /** How long a request body may take to arrive, from the end of its headers. */
  bodyTimeoutMs: number;
  log: Logger;
  /**
   * Throttles `http.body-timeout` per client address (a client can stall one body per request);
   * every line is written when absent.
   */
  peerLog?: PeerLog;
  /**
   * The config's `http.trustedProxies`: from these peers the client address is read from
   * `X-Forwarded-For` (forwarded_for.ts); absent, the header is ignored.
   */
  trustedProxies?: readonly string[];
  /** Throttles `http.forwarded-for-refused` per proxy and reason; every line when absent. */
  forwardedLog?: PeerLog;
}

const encoder = new TextEncoder();

/** Serves one request; never rejects (failures are logged and answered with 500). */
export async function bridgeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: BridgeOptions,
): Promise<void> {
  const peer = remoteAddr(req);
  const method = req.method ?? "GET";
  const path = requestPath(req.url ?? "/");
  if (path === undefined) {
    answerJson(res, 400, { error: "the request target is not a valid path" }, true);
    return;
  }
  const raw = req.rawHeaders;
  const forwardedFor: string[] = [];
  let hosts = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === "host") hosts++;
    else if (name === "x-forwarded-for") forwardedFor.push(raw[i + 1]!);
  }
  if (hosts > 1) {
    answerJson(res, 400, {
      error: "the request has more than one Host header (RFC 9112 section 3.2)",
    }, true);
    return;
  }
  const found = forwardedClient(peer.hostname, forwardedFor, options.trustedProxies);
  if (found.kind === "refused") {
    const fields = { remote: `${peer.hostname}:${peer.port}`, reason: found.reason };
    const key = `${peer.hostname} ${found.reason}`;
    if (options.forwardedLog) {
      options.forwardedLog.warn("http.forwarded-for-refused", key, fields, "count");
    } else options.log.warn("http.forwarded-for-refused", fields);
  }
  const remote: Deno.NetAddr = found.kind === "forwarded"
    ? { transport: "tcp", hostname: found.client, port: 0 }
    : peer;
  const via = found.kind === "forwarded" ? peer : undefined;
  const client = via ? `${remote.hostname} via ${via.hostname}:${via.port}` : undefined;
  // Methods the Fetch standard forbids (`new Request` throws on them): a client's choice, answered
  // as such, not an internal error (it was a 500 and an ERROR line per request).
  if (FORBIDDEN_METHODS.has(method.toUpperCase())) {
    answerJson(res, 405, { error: `the method ${method} is not served here` }, true);
    return;
  }
  let body: BodyStream | null = null;
  let arrived: Uint8Array | undefined;
  if (method !== "GET" && method !== "HEAD") {
    // Node's parser reads on through the bytes it was given once this listener returns: a body
    // that came with its headers (most API requests, one TLS record) is complete a microtask
    // later, and goes to the handler as bytes, without a stream, its listeners and its deadline
    // timer (~10 µs a request). A body still on its way is streamed as it arrives.
    await null;
    if (req.complete) arrived = arrivedBody(req);
    else body = new BodyStream(req, res, options, remote.hostname, client);
  }
  try {
    const request = new Request(`${options.origin}${path}`, {
      method,
      ...(body ? { body: body.stream, duplex: "half" } : arrived ? { body: arrived } : {}),
    } as RequestInit);
    if (!appendHeaders(request.headers, raw)) {
      answerJson(res, 400, { error: "a request header has a value HTTP does not allow" }, true);
      return;
    }
    const info = { remoteAddr: remote, completed: done, ...(via ? { via } : {}) };
    const response = await options.fetch(request, info);
    // Answered before the body was read (a 413 on Content-Length, a 401 before the body): the
    // rest is read and dropped, as Node's own server does, so the connection reaches its next
    // request. Left unread, a client reusing the connection got no answer until a timeout closed
    // it. The body's deadline bounds how long a client may go on sending.
    if (body && !req.complete) body.discard();
    await writeResponse(res, response, method === "HEAD");
  } catch (error) {
    options.log.error("http.failed", {
      remote: client ?? `${remote.hostname}:${remote.port}`,
      error,
    });
    if (!res.headersSent) answerJson(res, 500, { error: "internal error" }, false);
    else res.destroy();
  }
}

/**
 * Appends Node's raw header pairs to a request's own headers; false when one is not valid HTTP.
 * (A `Headers` given to `new Request` instead is copied through its iterator, sorted, combined and
 * checked again: four times the cost of the appends.)
 */
function appendHeaders(headers: Headers, raw: readonly string[]): boolean {
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    return true;
  } catch {
    return false;
  }
}

/**
 * The body of a request Node's parser has read to its end, as Node holds it: nothing has listened
 * to `req` yet, so every byte is still in its buffer.
 */
function arrivedBody(req: IncomingMessage): Uint8Array {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (let chunk = req.read(); chunk !== null; chunk = req.read()) {
    chunks.push(chunk);
    length += chunk.length;
  }
  return joinChunks(chunks, length);
}

/** Methods `new Request` refuses (the Fetch standard's forbidden methods; CONNECT never gets here). */
const FORBIDDEN_METHODS: ReadonlySet<string> = new Set(["TRACE", "TRACK"]);

/** `Deno.ServeHandlerInfo.completed` has no meaning here; handlers do not use it. */
const done = Promise.resolve();

/** The peer's address as `Deno.serve` would give it (IPv4-mapped IPv6 as plain IPv4). */
function remoteAddr(req: IncomingMessage): Deno.NetAddr {
  const address = req.socket.remoteAddress ?? "unknown";
  const hostname = address.startsWith("::ffff:") && address.includes(".")
    ? address.slice(7)
    : address;
  return { transport: "tcp", hostname, port: req.socket.remotePort ?? 0 };
}

/** The path and query of an origin-form or absolute-form request target. */
function requestPath(target: string): string | undefined {
  if (target.startsWith("/")) return target;
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}

/** Answers a small JSON body (errors the handler never saw). */
export function answerJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  close: boolean,
): void {
  const bytes = encoder.encode(JSON.stringify(value));
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": String(bytes.length),
    "Cache-Control": "no-store",
    // As every answer of the app (respond.ts): taken for what its Content-Type says.
    "X-Content-Type-Options": "nosniff",
    ...(close ? { Connection: "close" } : {}),
  });
  res.end(bytes);
}

/** Largest body of known length read whole before it is written (larger ones are streamed). */
const WHOLE_BODY_MAX = 1024 * 1024;

async function writeResponse(res: ServerResponse, response: Response, head: boolean) {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  // `forEach`, not `for…of`: the same pairs, at a quarter of the iterator's cost (~4 against ~15 µs
  // for six headers).
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") res.setHeader(name, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (head) {
    await response.body?.cancel().catch(() => {});
    res.end();
    return;
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared <= WHOLE_BODY_MAX) {
    // A body of known, small length (every JSON answer of the app): read whole and written with
    // the headers in one go; a stream's reader costs more than the rest of writing the answer.
    // (Not `response.body` first: for bytes it makes a stream only to be read back.)
    const bytes = await response.bytes();
    if (bytes.length !== declared) res.setHeader("content-length", String(bytes.length));
    if (!res.destroyed) res.end(bytes);
    return;
  }
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) {
        await reader.cancel().catch(() => {});
        return;
      }
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
        });
      }
    }
  } finally {
    reader.releaseLock();
  }
  res.end();
}

/**
 * A request body as a `ReadableStream` that reads from the socket only when the handler asks
 * (an unread body is never buffered here: {@link BodyStream.discard} drops it), with the deadline
 * of the module doc.
 */
class BodyStream {
  readonly stream: ReadableStream<Uint8Array<ArrayBuffer>>;
  #controller!: ReadableStreamDefaultController<Uint8Array<ArrayBuffer>>;
  #listening = false;
  #finished = false;
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #req: IncomingMessage;

  /** `address`: the client's (throttle key); `label`: how it is logged when not `address`. */
  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    options: BridgeOptions,
    address: string,
    label?: string,
  ) {
    this.#req = req;
    bodies.set(req, this);
    this.stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        this.#listen();
        req.resume();
      },
      cancel: () => {
        this.#finished = true;
        req.off("data", this.#onData);
        req.resume(); // Node reads and discards the rest
      },
    }, { highWaterMark: 0 });
    this.#timer = setTimeout(() => {
      if (req.complete) return;
      const seconds = options.bodyTimeoutMs / 1000;
      const fields = { remote: label ?? address, seconds, answered: res.headersSent };
      if (options.peerLog) options.peerLog.warn("http.body-timeout", address, fields, "count");
      else options.log.warn("http.body-timeout", fields);
      if (res.writableEnded || res.headersSent) {
        // Answered already, yet the client is still sending: it gets no more of our time.
        req.socket.destroy();
        return;
      }
      this.#fail(new BodyTimeoutError(seconds));
    }, options.bodyTimeoutMs);
    Deno.unrefTimer(this.#timer);
    const stop = () => clearTimeout(this.#timer);
    req.once("end", stop);
    // Still armed after the answer while the client keeps sending: see the timer.
    res.once("close", () => (req.complete || req.socket.destroyed) && stop());
    // Node's parser refused the body in the bytes that brought its headers, before this stream
    // was made (see bridgeRequest): the handler's read fails at once.
    const refused = refusedEarly.get(req);
    if (refused) this.refuse(refused);
  }

  /** The handler answered without reading the rest: it is read and dropped from here on. */
  discard(): void {
    this.#fail(new Error("the request was answered before its body was read"));
    this.#req.resume();
  }

  /** Node's parser refused the rest of the body: the handler's read fails with `error`. */
  refuse(error: BodyFramingError): void {
    clearTimeout(this.#timer);
    this.#fail(error);
  }

  #listen() {
    if (this.#listening) return;
    this.#listening = true;
    const req = this.#req;
    req.on("data", this.#onData);
    req.once("end", () => {
      if (this.#finished) return;
      this.#finished = true;
      this.#controller.close();
    });
    req.once("error", (error) => this.#fail(error));
    req.once("close", () => {
      if (!req.complete) this.#fail(new Error("the client closed the connection mid-body"));
    });
  }

  #onData = (chunk: Uint8Array) => {
    if (this.#finished) return;
    this.#controller.enqueue(
      new Uint8Array(chunk.buffer as ArrayBuffer, chunk.byteOffset, chunk.byteLength),
    );
    this.#req.pause();
  };

  #fail(error: Error) {
    if (this.#finished) return;
    this.#finished = true;
    this.#req.off("data", this.#onData);
    this.#controller.error(error);
  }
}
