/**
 * Reading an HTTP/1.1 response off a raw connection, for tests that write requests byte by byte,
 * and sending one such request to a fresh public server ({@link sendRaw}).
 * @module
 */

import { memoryLogger } from "../../../actors/runtime/log.ts";
import { servePublic } from "../../../transports/http/serve.ts";

const dec = new TextDecoder();

/** An HTTP/1.1 response read off a raw connection. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Reads one response (headers, then a Content-Length or chunked body) from `conn`, within `ms`. */
export async function readResponse(conn: Deno.Conn, ms: number): Promise<RawResponse> {
  const deadline = AbortSignal.timeout(ms);
  let buffer = new Uint8Array(0);
  const more = async () => {
    const chunk = new Uint8Array(16 * 1024);
    const n = await Promise.race([
      conn.read(chunk),
      new Promise<never>((_, reject) => {
        if (deadline.aborted) reject(new Error(`no response within ${ms} ms`));
        deadline.addEventListener("abort", () => reject(new Error(`no response within ${ms} ms`)));
      }),
    ]);
    if (n === null) throw new Error("connection closed before the response was complete");
    const next = new Uint8Array(buffer.length + n);
    next.set(buffer);
    next.set(chunk.subarray(0, n), buffer.length);
    buffer = next;
  };
  let end = -1;
  while ((end = dec.decode(buffer).indexOf("\r\n\r\n")) < 0) await more();
  const [statusLine, ...lines] = dec.decode(buffer.subarray(0, end)).split("\r\n");
  const headers = new Map(lines.map((l) => {
    const colon = l.indexOf(":");
    return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()] as [string, string];
  }));
  const status = Number(statusLine!.split(" ")[1]);
  if (headers.get("transfer-encoding") === "chunked") {
    // Chunks until the last (zero-length) one.
    while (!dec.decode(buffer.subarray(end + 4)).includes("\r\n0\r\n\r\n")) await more();
    let rest = dec.decode(buffer.subarray(end + 4));
    let body = "";
    for (;;) {
      const eol = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, eol), 16);
      if (size === 0) break;
      body += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
    return { status, headers, body };
  }
  const length = Number(headers.get("content-length") ?? 0);
  while (buffer.length < end + 4 + length) await more();
  return { status, headers, body: dec.decode(buffer.subarray(end + 4, end + 4 + length)) };
}

/**
 * Reads `conn` until the peer closes it (end of stream, or a reset or TLS error, which also
 * means closed); rejects when it is still open after `ms`. Resolves with what was read.
 */
export async function readUntilClosed(conn: Deno.Conn, ms: number): Promise<string> {
  const timer = AbortSignal.timeout(ms);
  const timeout = new Promise<never>((_, reject) =>
    timer.addEventListener("abort", () => reject(new Error(`still open after ${ms} ms`)))
  );
  timeout.catch(() => {});
  let text = "";
  const chunk = new Uint8Array(64 * 1024);
  for (;;) {
    let n: number | null;
    try {
      n = await Promise.race([conn.read(chunk), timeout]);
    } catch (error) {
      if (timer.aborted) throw error;
      return text; // reset or TLS error: closed
    }
    if (n === null) return text;
    text += dec.decode(chunk.subarray(0, n));
  }
}

/** What {@link sendRaw} saw: the answer, how many requests reached the app, the log lines. */
export interface RawExchange {
  response: RawResponse;
  /** Requests the app's handler was called for. */
  served: number;
  lines: string[];
}

/**
 * Writes `request` byte for byte to a fresh public server (plain HTTP on loopback, an app that
 * counts what reaches it) and reads its answer, within 10 s; the server is shut down after.
 */
export async function sendRaw(request: string): Promise<RawExchange> {
  let served = 0;
  const log = memoryLogger();
  const server = await servePublic({
    fetch: () => {
      served++;
      return new Response("ok");
    },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log,
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      // The server may answer and close before it has read a large request whole.
      await conn.write(new TextEncoder().encode(request)).catch(() => {});
      const response = await readResponse(conn, 10_000);
      return { response, served, lines: log.lines };
    } finally {
      conn.close();
    }
  } finally {
    await server.shutdown();
  }
}
