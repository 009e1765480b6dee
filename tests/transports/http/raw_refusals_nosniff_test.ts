/**
 * Refusals written below the app (Node's parser or the bridge, before Hono sees a request) carry
 * `X-Content-Type-Options: nosniff` like every other answer, and keep their other headers.
 * Each is sent over a raw TCP connection to the real server.
 * @module
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { readResponse, sendRaw } from "./raw_http.ts";

const enc = new TextEncoder();

/** What a refused request gets back: its status, its `error` and the headers checked. */
interface Refusal {
  readonly request: string;
  readonly status: number;
  readonly error: RegExp;
}

const refusals: Record<string, Refusal> = {
  "two Host headers": {
    request: "GET /x HTTP/1.1\r\nHost: engine\r\nhost: other\r\n\r\n",
    status: 400,
    error: /^the request has more than one Host header \(RFC 9112 section 3\.2\)$/,
  },
  "a request line that is not HTTP": {
    request: "HELLO THERE\r\n\r\n",
    status: 400,
    error: /^the request is not valid HTTP\/1\.1$/,
  },
  "20 KB of headers": {
    request: `GET /x HTTP/1.1\r\nHost: engine\r\nX-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`,
    status: 431,
    error: /^the request line and headers are larger than 16384 bytes$/,
  },
  "a request target that is not a path": {
    request: "OPTIONS * HTTP/1.1\r\nHost: engine\r\n\r\n",
    status: 400,
    error: /^the request target is not a valid path$/,
  },
  "a TRACE": {
    request: "TRACE / HTTP/1.1\r\nHost: engine\r\n\r\n",
    status: 405,
    error: /^the method TRACE is not served here$/,
  },
  "a CONNECT": {
    request: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    status: 405,
    error: /^the method CONNECT is not served here$/,
  },
};

for (const [what, refusal] of Object.entries(refusals)) {
  Deno.test(`http: ${what} is refused with X-Content-Type-Options: nosniff, JSON and Connection: close`, async () => {
    const { response: r, served, lines } = await sendRaw(refusal.request);
    assert.equal(r.status, refusal.status, r.body);
    assert.match(JSON.parse(r.body).error, refusal.error);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.headers.get("connection"), "close");
    assert.equal(served, 0);
    // A client's mistake, not the engine's: no ERROR line (TRACE was a 500 and one each).
    assert.deepEqual(lines.filter((l) => / ERROR /.test(l)), []);
  });
}

Deno.test("http: a request refused because the engine is stopping (503) carries X-Content-Type-Options: nosniff and its Retry-After", async () => {
  let entered!: () => void;
  let release!: () => void;
  const inFlight = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (release = r));
  const server = await servePublic({
    fetch: async () => {
      entered();
      await gate;
      return new Response("done");
    },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log: memoryLogger(),
  });
  const a = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const b = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // A request in flight holds the shutdown; one on another open connection is refused.
    await a.write(enc.encode("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    await inFlight;
    const stopping = server.drain(10_000);
    await b.write(enc.encode("POST /later HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    const r = await readResponse(b, 10_000);
    assert.equal(r.status, 503, r.body);
    assert.equal(JSON.parse(r.body).error, "the engine is stopping: send the request again later");
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.ok(r.headers.has("retry-after"));
    assert.equal(r.headers.get("connection"), "close");
    release();
    await stopping;
  } finally {
    release();
    for (const c of [a, b]) {
      try {
        c.close();
      } catch { /* closed by the server */ }
    }
    await server.shutdown();
  }
});
