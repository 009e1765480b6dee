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
