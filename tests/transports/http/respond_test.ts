import assert from "node:assert/strict";
import { Hono } from "hono";
import { Secret } from "../../../actors/config/secret.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { sendJson } from "../../../transports/http/respond.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { testPki } from "./ingress_fixture.ts";

/** A JSON value that encodes to exactly `bytes` bytes. */
const ofSize = (bytes: number) => ({ pad: "x".repeat(bytes - '{"pad":""}'.length) });

/** Median time of 8 sequential POSTs on one keep-alive HTTP/1.1 connection, after a warm-up. */
async function medianMs(path: string, bytes: number): Promise<number> {
  const pki = await testPki();
  const app = new Hono();
  // The headers POST /endpoint sets, which move where the stall starts.
  app.use(async (c, next) => {
    c.header("Cache-Control", "no-store");
    c.header("X-RateLimit-Limit", "10000");
    c.header("X-RateLimit-Remaining", "9999");
    await next();
  });
  app.post("/send-json", async (c) => {
    await c.req.arrayBuffer();
    return sendJson(c, ofSize(bytes));
  });
  app.post("/c-json", async (c) => {
    await c.req.arrayBuffer();
    return c.json(ofSize(bytes));
  });
  const server = servePublic({
    fetch: app.fetch,
    http: {
      port: 0,
      hostname: "127.0.0.1",
      development: false,
      tls: {
        cert: new Secret(pki.serverCert, "t"),
        key: new Secret(pki.serverKey, "t"),
        requireClientCert: false,
      },
    },
    log: memoryLogger(),
  });
  // HTTP/1.1 like most integration clients (over HTTP/2 there is no stall).
  const client = Deno.createHttpClient({ caCerts: [pki.caCert], http1: true, http2: false });
  try {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await fetch(`https://127.0.0.1:${server.port}${path}`, {
        method: "POST",
        body: "{}",
        client,
      });
      const text = await r.text();
      assert.equal(text.length, bytes);
      if (i >= 2) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1]!;
  } finally {
    client.close();
    await server.shutdown();
  }
}

Deno.test("JSON answers of every size reach a keep-alive HTTPS client without a Nagle stall", async () => {
  for (const bytes of [60, 300, 400, 5_000]) {
    const ms = await medianMs("/send-json", bytes);
    assert.ok(ms < 20, `${bytes}-byte answer took ${ms.toFixed(1)} ms (median)`);
  }
});

Deno.test("Deno's HTTPS server still stalls a known-length answer of 1000 bytes (why respond.ts streams)", async () => {
  // If this fails after a Deno upgrade, the stall is fixed: sendJson can use c.json again.
  const ms = await medianMs("/c-json", 1_000);
  assert.ok(ms > 30, `c.json of 1000 bytes took ${ms.toFixed(1)} ms: no stall any more?`);
});
