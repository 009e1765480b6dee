import assert from "node:assert/strict";
import { Secret } from "../../../actors/config/secret.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { testPki } from "./ingress_fixture.ts";

const ok = () => new Response("ok");
const secret = (value: string) => new Secret(value, "env:TEST");

Deno.test("the public server refuses plain HTTP unless the config marks it for development", async () => {
  const log = memoryLogger();
  await assert.rejects(
    () =>
      servePublic({
        fetch: ok,
        http: { port: 0, hostname: "127.0.0.1", development: false },
        log,
      }),
    /refusing to serve plain HTTP: configure http\.tls .* or set "development": true/,
  );
  const dev = await servePublic({
    fetch: ok,
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log,
  });
  try {
    assert.equal(dev.tls, false);
    const r = await fetch(`http://127.0.0.1:${dev.port}/`);
    assert.equal(await r.text(), "ok");
    assert.ok(log.lines.some((l) => /http\.listening .*port=\d+ tls=false/.test(l)));
  } finally {
    await dev.shutdown();
  }
});

Deno.test("the public server serves HTTPS with the configured certificate and rejects plain HTTP on it", async () => {
  const pki = await testPki();
  const log = memoryLogger();
  const controller = new AbortController();
  const server = await servePublic({
    fetch: ok,
    http: {
      port: 0,
      hostname: "127.0.0.1",
      development: true, // TLS configured: still HTTPS
      tls: { cert: secret(pki.serverCert), key: secret(pki.serverKey), requireClientCert: false },
    },
    log,
    signal: controller.signal,
  });
  const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
  try {
    assert.equal(server.tls, true);
    const r = await fetch(`https://127.0.0.1:${server.port}/`, { client });
    assert.equal(await r.text(), "ok");
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/`));
  } finally {
    client.close();
    controller.abort();
    await server.finished;
  }
});

Deno.test("the public server refuses client certificates, an empty key and an unreadable certificate", async () => {
  const pki = await testPki();
  const log = memoryLogger();
  const http = (tls: Record<string, unknown>) => ({
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    tls: {
      cert: secret(pki.serverCert),
      key: secret(pki.serverKey),
      requireClientCert: false,
      ...tls,
    },
  });
  await assert.rejects(
    () => servePublic({ fetch: ok, http: http({ requireClientCert: true }), log }),
    /client certificates \(ca, requireClientCert\) are not supported on the HTTP listener/,
  );
  await assert.rejects(
    () =>
      servePublic({
        fetch: ok,
        http: http({ key: new Secret("  \n", "file:/etc/engine/key.pem") }),
        log,
      }),
    /http\.tls: the key \(file:\/etc\/engine\/key\.pem\) is empty/,
  );
  await assert.rejects(
    () =>
      servePublic({
        fetch: ok,
        http: http({
          cert: new Secret(
            "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----",
            "env:CERT",
          ),
        }),
        log,
      }),
    /http\.tls: cannot serve with the certificate \(env:CERT\) and key \(env:TEST\)/,
  );
});

Deno.test("an answer given before the body is read: the rest is dropped and the same connection answers the next request", async () => {
  // Refuses on Content-Length alone, as a body limit does, without reading the body.
  const server = await servePublic({
    fetch: (req) =>
      new URL(req.url).pathname === "/up"
        ? new Response("too large", { status: 413 })
        : new Response("next"),
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log: memoryLogger(),
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const write = async (bytes: Uint8Array) => {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    };
    let text = "";
    const reading = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        text += new TextDecoder().decode(buf.subarray(0, n));
        if (text.includes("next")) return;
      }
    })();
    // Bounds the whole exchange: on failure the writes below block, or the answer never comes.
    const timer = setTimeout(() => conn.close(), 10_000);
    // More than the socket buffers hold: the client can only finish if the server reads it.
    const size = 8 * 1024 * 1024;
    await write(
      new TextEncoder().encode(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`),
    );
    await write(new Uint8Array(size)).catch(() => {});
    await write(new TextEncoder().encode("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")).catch(() => {});
    await reading.catch(() => {});
    clearTimeout(timer);
    assert.match(text, /^HTTP\/1\.1 413 /, text);
    assert.match(
      text,
      /\r\n\r\n[\s\S]*HTTP\/1\.1 200 [\s\S]*next/,
      `no answer to the next request:\n${text}`,
    );
  } finally {
    try {
      conn.close();
    } catch { /* closed by the timer */ }
    await server.shutdown();
  }
});

Deno.test("the public server on a taken port names the address and keeps EADDRINUSE as the cause", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const error = await servePublic({
      fetch: ok,
      http: { port, hostname: "127.0.0.1", development: true },
      log: memoryLogger(),
    }).then(() => undefined, (e: Error) => e);
    assert.ok(error, "listening on a taken port failed");
    assert.match(error.message, new RegExp(`http: cannot listen on 127\\.0\\.0\\.1:${port}: `));
    assert.equal((error.cause as { code?: string } | undefined)?.code, "EADDRINUSE");
  } finally {
    taken.close();
  }
});

Deno.test("shutdown lets a request in flight finish and does not wait for a connection that never sent one", async () => {
  let release: (() => void) | undefined;
  const started = Promise.withResolvers<void>();
  const server = await servePublic({
    fetch: async () => {
      started.resolve();
      await new Promise<void>((r) => (release = r));
      return new Response("finished");
    },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log: memoryLogger(),
  });
  // A client's spare connection: open, nothing sent (Node's closeIdleConnections leaves it).
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const client = Deno.createHttpClient({});
  const inFlight = fetch(`http://127.0.0.1:${server.port}/slow`, { client });
  try {
    await started.promise;
    const t0 = performance.now();
    const stopped = server.shutdown();
    release!();
    const r = await inFlight;
    assert.equal(await r.text(), "finished", "the request in flight is answered");
    await stopped;
    // The grace for requests in flight is 10 s; nothing was in flight once the answer went.
    const tookMs = performance.now() - t0;
    assert.ok(tookMs < 5_000, `shutdown took ${tookMs.toFixed(0)} ms`);
    // The silent connection was closed by the server.
    const n = await silent.read(new Uint8Array(16)).catch(() => null);
    assert.equal(n, null);
  } finally {
    release?.();
    silent.close();
    client.close();
  }
});
