import assert from "node:assert/strict";
import { Hono } from "hono";
import { Secret } from "../../../actors/config/secret.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { sendJson } from "../../../transports/http/respond.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { testPki } from "./ingress_fixture.ts";

/** A JSON value that encodes to exactly `bytes` bytes. */
const ofSize = (bytes: number) => ({ pad: "x".repeat(bytes - '{"pad":""}'.length) });

/**
 * Every `sendJson` answer goes out whole with its length (no chunked encoding), with the headers
 * set before it; an answer of unknown length still streams. How long either kind takes on a
 * keep-alive connection is timed by `deno task bench https_respond`, not here.
 */
/** `app` served by the public server over TLS, and an HTTP/1.1 client that trusts it. */
async function served(app: Hono) {
  const pki = await testPki();
  const server = await servePublic({
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
  // HTTP/1.1 like most integration clients.
  const client = Deno.createHttpClient({ caCerts: [pki.caCert], http1: true, http2: false });
  return {
    url: (path: string) => `https://127.0.0.1:${server.port}${path}`,
    client,
    async close() {
      client.close();
      await server.shutdown();
    },
  };
}

Deno.test("sendJson answers of every size go out whole with their length, keeping the headers already set", async () => {
  const app = new Hono();
  // The headers POST /endpoint sets: they go out with the answer.
  app.use(async (c, next) => {
    c.header("Cache-Control", "no-store");
    c.header("X-RateLimit-Limit", "10000");
    await next();
  });
  app.post("/send-json/:n", async (c) => {
    await c.req.arrayBuffer();
    return sendJson(c, ofSize(Number(c.req.param("n"))), 201, { "X-Extra": "yes" });
  });
  // A body whose length the app does not know: written as it comes.
  app.get("/stream", () =>
    new Response(
      new ReadableStream({
        start(controller) {
          for (const part of ["[1,", "2,", "3]"]) {
            controller.enqueue(new TextEncoder().encode(part));
          }
          controller.close();
        },
      }),
    ));
  const { url, client, close } = await served(app);
  try {
    for (const bytes of [60, 300, 400, 1_000, 5_000]) {
      const r = await fetch(url(`/send-json/${bytes}`), {
        method: "POST",
        body: "{}",
        client,
      });
      const text = await r.text();
      assert.equal(r.status, 201);
      assert.equal(text.length, bytes);
      assert.deepEqual(JSON.parse(text), ofSize(bytes));
      assert.equal(r.headers.get("content-length"), String(bytes));
      assert.equal(r.headers.get("transfer-encoding"), null, `${bytes} bytes: chunked`);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.equal(r.headers.get("cache-control"), "no-store");
      assert.equal(r.headers.get("x-ratelimit-limit"), "10000");
      assert.equal(r.headers.get("x-extra"), "yes");
    }
    const streamed = await fetch(url("/stream"), { client });
    assert.equal(streamed.headers.get("transfer-encoding"), "chunked");
    assert.deepEqual(await streamed.json(), [1, 2, 3]);
  } finally {
    await close();
  }
});

Deno.test("an answer whose declared length is wrong goes out with its body's own, and HEAD with the length alone", async () => {
  const app = new Hono();
  const body = new TextEncoder().encode('{"ok":true,"pad":"0123456789"}');
  app.on(
    ["GET", "HEAD"],
    "/declared/:n",
    (c) =>
      c.body(body, 200, { "Content-Type": "application/json", "Content-Length": c.req.param("n") }),
  );
  const { url, client, close } = await served(app);
  try {
    for (const declared of [5, body.length, body.length + 40]) {
      const r = await fetch(url(`/declared/${declared}`), { client });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-length"), String(body.length), `declared ${declared}`);
      assert.deepEqual(await r.json(), { ok: true, pad: "0123456789" });
    }
    const head = await fetch(url(`/declared/${body.length}`), { method: "HEAD", client });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(body.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  } finally {
    await close();
  }
});
