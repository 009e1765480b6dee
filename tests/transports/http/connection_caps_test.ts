/**
 * The public HTTP(S) server caps its connections, in all and per peer address: past a cap a new
 * connection is closed as soon as it is accepted, with one `http.connection-refused` line per
 * address every 5 s however many are refused; the connections already open are served, and a
 * freed place is taken again. Real loopback sockets.
 * @module
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Secret } from "../../../actors/config/secret.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import {
  limitConnections,
  MAX_HTTP_CONNECTIONS_PER_PEER,
} from "../../../transports/http/connection_limits.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { testPki } from "./ingress_fixture.ts";
import { readResponse } from "./raw_http.ts";

const enc = new TextEncoder();
const HEALTHZ = enc.encode("GET /healthz HTTP/1.1\r\nHost: engine\r\n\r\n");

/** True when the server closes `conn` (end of stream, reset, failed handshake) within `ms`. */
async function closedByServer(conn: Deno.Conn, ms: number): Promise<boolean> {
  const timer = setTimeout(() => conn.close(), ms);
  let closedByUs = false;
  const buf = new Uint8Array(1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return true;
    }
  } catch (error) {
    closedByUs = error instanceof Deno.errors.BadResource ||
      error instanceof Deno.errors.Interrupted;
    return !closedByUs;
  } finally {
    clearTimeout(timer);
    if (!closedByUs) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  }
}

/** The per-address cap the per-peer cases set (the default, 100, is checked on its own). */
const PER_PEER = 5;

async function perPeerCase(tls: boolean) {
  const pki = tls ? await testPki() : undefined;
  const log = memoryLogger();
  const server = await servePublic({
    fetch: () => new Response("ok"),
    http: {
      port: 0,
      hostname: "127.0.0.1",
      development: true,
      ...(pki
        ? {
          tls: {
            cert: new Secret(pki.serverCert, "env:TEST"),
            key: new Secret(pki.serverKey, "env:TEST"),
            requireClientCert: false,
          },
        }
        : {}),
    },
    // A small cap: the connections under it are opened and served well within the keep-alive
    // timeout (5 s) even on a loaded machine, so none is closed by the server meanwhile.
    limits: {
      httpHeaderTimeoutSeconds: 30,
      httpBodyTimeoutSeconds: 60,
      maxHttpConnections: 1000,
      maxHttpConnectionsPerPeer: PER_PEER,
    },
    log,
  });
  const connect = (): Promise<Deno.Conn> =>
    pki
      ? Deno.connectTls({ hostname: "127.0.0.1", port: server.port, caCerts: [pki.caCert] })
      : Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const open: Deno.Conn[] = [];
  try {
    // The cap's worth of connections from 127.0.0.1, each served.
    for (let i = 0; i < PER_PEER; i++) {
      const conn = await connect();
      open.push(conn);
      await conn.write(HEALTHZ);
      assert.equal((await readResponse(conn, 5_000)).status, 200, `connection ${i + 1}`);
    }
    // One more is closed at once; so are the next three, with no further line.
    for (let i = 0; i < 4; i++) {
      const extra = await connect();
      const closed = await closedByServer(extra, 5_000);
      assert.ok(closed, `connection ${PER_PEER + 1 + i} was not refused`);
    }
    const refused = log.lines.filter((l) => l.includes("http.connection-refused"));
    assert.equal(refused.length, 1, refused.join("\n"));
    // Nothing else is logged for them (a refused TLS connection's failed handshake included).
    const others = log.lines.filter((l) => / (WARN|ERROR) /.test(l) && !refused.includes(l));
    assert.deepEqual(others, []);
    assert.match(
      refused[0]!,
      /peer=127\.0\.0\.1 reason="too many connections from this address" cap=5 refused=1/,
    );
    // The connections already open are still served.
    await open[0]!.write(HEALTHZ);
    assert.equal((await readResponse(open[0]!, 5_000)).status, 200);
    // A freed place is taken again (the server sees the close a moment later).
    open.pop()!.close();
    const deadline = performance.now() + 5_000;
    for (;;) {
      const again = await connect();
      try {
        await again.write(HEALTHZ);
        assert.equal((await readResponse(again, 2_000)).status, 200);
        open.push(again);
        break;
      } catch (error) {
        again.close();
        if (performance.now() > deadline) throw error;
      }
    }
  } finally {
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await server.shutdown();
  }
}

Deno.test("HTTP: the connection past the per-address cap is refused at accept, logged once", async () => {
  await perPeerCase(false);
});

Deno.test("HTTPS: the connection past the per-address cap is refused before the handshake, logged once", async () => {
  await perPeerCase(true);
});

Deno.test("HTTP connection limits: past the listener's total a connection is refused whatever its address, logged once", async () => {
  const log = memoryLogger();
  const server = createServer((_req, res) => res.end("ok"));
  const limits = limitConnections(server, { log, maxConnections: 3, maxConnectionsPerPeer: 10 });
  server.on("request", (req, res) => limits.admit(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const open: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      open.push(conn);
      await conn.write(HEALTHZ);
      assert.equal((await readResponse(conn, 5_000)).status, 200);
    }
    assert.equal(limits.connections, 3);
    for (let i = 0; i < 2; i++) {
      assert.ok(await closedByServer(await Deno.connect({ hostname: "127.0.0.1", port }), 5_000));
    }
    const refused = log.lines.filter((l) => l.includes("http.connection-refused"));
    assert.equal(refused.length, 1, refused.join("\n"));
    assert.match(refused[0]!, /reason="too many connections on this listener" cap=3 refused=1/);
    assert.equal(limits.connections, 3);
  } finally {
    for (const c of open) c.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("HTTP: limits.maxHttpConnectionsPerPeer sets the cap from one address (a reverse proxy's)", async () => {
  const log = memoryLogger();
  const server = await servePublic({
    fetch: () => new Response("ok"),
    http: { port: 0, hostname: "127.0.0.1", development: true },
    limits: {
      httpHeaderTimeoutSeconds: 30,
      httpBodyTimeoutSeconds: 60,
      maxHttpConnections: 1000,
      maxHttpConnectionsPerPeer: 2,
    },
    log,
  });
  const open: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      open.push(conn);
      await conn.write(HEALTHZ);
      assert.equal((await readResponse(conn, 5_000)).status, 200, `connection ${i + 1}`);
    }
    const extra = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    assert.ok(await closedByServer(extra, 5_000), "the third connection was not refused");
    assert.match(log.lines.join("\n"), /http\.connection-refused .*cap=2 refused=1/);
  } finally {
    for (const c of open) c.close();
    await server.shutdown();
  }
});

Deno.test("HTTP connection caps: 1,000 in all and 100 from one address unless the config says otherwise", async () => {
  assert.equal(MAX_HTTP_CONNECTIONS_PER_PEER, 100);
  const { configFrom } = await import("../../helpers/engine.ts");
  const config = configFrom({ environments: [{ id: "dev", type: "development" }] });
  assert.equal(config.limits.maxHttpConnections, 1000);
  assert.equal(config.limits.maxHttpConnectionsPerPeer, 100);
});
