/**
 * The public HTTP server's shutdown drains: a request in flight when it begins is answered in
 * full; a request that comes meanwhile on a connection already open gets `503` with `Retry-After`
 * and `Connection: close`, and never reaches the app; the shutdown says how it went. Real loopback
 * sockets, requests written by hand so the test decides which connection carries what, and when.
 * @module
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { servePublic, STOPPING_RETRY_AFTER_SECONDS } from "../../../transports/http/serve.ts";

/** Everything `conn` reads until the server closes it (or fails after `ms`). */
async function readToEnd(conn: Deno.Conn, ms = 10_000): Promise<string> {
  const buf = new Uint8Array(16 * 1024);
  const dec = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => conn.close(), ms);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

Deno.test("HTTP shutdown: a request in flight is answered in full; one that comes meanwhile on an open connection gets 503 with Retry-After and never reaches the app", async () => {
  const seen: string[] = [];
  let entered!: () => void;
  let release!: () => void;
  const inFlight = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (release = r));
  const server = await servePublic({
    fetch: async (request) => {
      const path = new URL(request.url).pathname;
      seen.push(path);
      if (path === "/slow") {
        entered();
        await gate;
      }
      return new Response(`done ${path}`);
    },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log: memoryLogger(),
  });
  const enc = new TextEncoder();
  const a = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const b = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await a.write(enc.encode("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    await inFlight;
    assert.equal(server.answering, 1);
    const stopping = server.drain(10_000);
    await b.write(enc.encode("POST /later HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    const refused = await readToEnd(b);
    assert.match(refused, /^HTTP\/1\.1 503 /);
    assert.match(refused, new RegExp(`\r\nretry-after: ${STOPPING_RETRY_AFTER_SECONDS}\r\n`, "i"));
    assert.match(refused, /\r\nconnection: close\r\n/i);
    assert.match(refused, /engine is stopping/);
    release();
    const answered = await readToEnd(a);
    assert.match(answered, /^HTTP\/1\.1 200 /);
    assert.match(answered, /done \/slow/);
    assert.deepEqual(await stopping, { answered: 1, refused: 1, unanswered: 0 });
    assert.deepEqual(seen, ["/slow"], "the app never saw the request that came after");
  } finally {
    release();
    for (const c of [a, b]) {
      try {
        c.close();
      } catch { /* closed by the server or the timeout */ }
    }
    await server.shutdown();
  }
});
