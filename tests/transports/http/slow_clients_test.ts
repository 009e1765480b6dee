/**
 * Slow and oversized clients against the real HTTPS server: trickled headers, a silent TLS
 * connection, stalled bodies, huge headers. Each gets a clear answer (or a close where no answer
 * is possible) within the configured timeouts, and the server keeps serving.
 * @module
 */

import assert from "node:assert/strict";
import { type Ingress, LAB_SECRET, withIngress } from "./ingress_fixture.ts";
import { readResponse, readUntilClosed } from "./raw_http.ts";

const enc = new TextEncoder();
/** One-second timeouts: each test waits on an event bounded by a few of these. */
const FAST = { httpHeaderTimeoutSeconds: 1, httpBodyTimeoutSeconds: 1 };

async function connect(e: Ingress): Promise<Deno.TlsConn> {
  return await Deno.connectTls({ hostname: "127.0.0.1", port: e.port, caCerts: [e.pki.caCert] });
}

/** The server still answers a normal request. */
async function assertServing(e: Ingress): Promise<void> {
  const token = await e.secretToken();
  const r = await e.post(JSON.stringify({ ok: 1 }), token);
  assert.equal(r.status, 200, JSON.stringify(r.json));
}

Deno.test("a client trickling its request headers gets 408 naming the header timeout, and is closed", async () => {
  await withIngress({ timeouts: FAST }, async (e) => {
    const conn = await connect(e);
    const answer = readUntilClosed(conn, 15_000);
    try {
      await conn.write(enc.encode("POST /endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
      // One byte every 100 ms: far more than the timeout's worth, unless the server closes first.
      const line = "X-Slow: a\r\n";
      let closed = false;
      void answer.then(() => closed = true, () => closed = true);
      for (let i = 0; i < 150 && !closed; i++) {
        try {
          await conn.write(enc.encode(line[i % line.length]!));
        } catch {
          break; // the server closed: the answer was sent before
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const text = await answer;
      assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.match(text, /\r\nConnection: close\r\n/i);
      const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
      assert.equal(
        body.error,
        "the request headers were not received within 1 s (limits.httpHeaderTimeoutSeconds)",
      );
    } finally {
      conn.close();
    }
    assert.ok(
      e.lines.some((l) => /WARN +http\.client-error .*status=408/.test(l)),
      e.lines.join("\n"),
    );
    await assertServing(e);
  });
});

Deno.test("a connection that never starts its TLS handshake is closed after the header timeout", async () => {
  await withIngress({ timeouts: FAST }, async (e) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: e.port });
    try {
      assert.equal(await readUntilClosed(conn, 15_000), "");
    } finally {
      conn.close();
    }
    await assertServing(e);
  });
});

Deno.test("a stalled body gets 408 with a JSON error naming the body timeout, and the connection is closed", async () => {
  await withIngress({ timeouts: FAST }, async (e) => {
    const token = await e.secretToken();
    const conn = await connect(e);
    try {
      await conn.write(enc.encode(
        "POST /endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
          `Authorization: Bearer ${token}\r\nContent-Length: 1000\r\n\r\n{"Meta": `,
      ));
      const r = await readResponse(conn, 15_000);
      assert.equal(r.status, 408);
      assert.equal(r.headers.get("connection"), "close");
      assert.deepEqual(JSON.parse(r.body), {
        Meta: {
          Errors: [{
            Text: "the body was not received within 1 s (limits.httpBodyTimeoutSeconds)",
          }],
        },
      });
      await readUntilClosed(conn, 15_000);
    } finally {
      conn.close();
    }
    assert.equal(e.inbox.requests.length, 0);
    assert.ok(e.lines.some((l) => /WARN +endpoint\.body-timeout .*source=lab-secret/.test(l)));
    await assertServing(e);
  });
});

Deno.test("a stalled token request gets 408 invalid_request and is closed", async () => {
  await withIngress({ timeouts: FAST }, async (e) => {
    const conn = await connect(e);
    try {
      await conn.write(enc.encode(
        "POST /v2/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
          "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n" +
          "grant_type=client_credentials&client_id=lab-secret-client",
      ));
      const r = await readResponse(conn, 15_000);
      assert.equal(r.status, 408);
      assert.deepEqual(JSON.parse(r.body), {
        error: "invalid_request",
        error_description: "the body was not received within 1 s (limits.httpBodyTimeoutSeconds)",
      });
      await readUntilClosed(conn, 15_000);
    } finally {
      conn.close();
    }
    assert.ok(LAB_SECRET);
    await assertServing(e);
  });
});

Deno.test("a body still trickling after its answer is cut off at the body timeout", async () => {
  await withIngress({ timeouts: FAST }, async (e) => {
    const conn = await connect(e);
    try {
      // No token: answered 401 at once, before the body; the client keeps sending it slowly.
      await conn.write(enc.encode(
        "POST /endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
          "Content-Length: 100000\r\n\r\n[",
      ));
      const r = await readResponse(conn, 15_000);
      assert.equal(r.status, 401);
      const closed = readUntilClosed(conn, 15_000);
      let done = false;
      void closed.then(() => done = true, () => done = true);
      for (let i = 0; i < 150 && !done; i++) {
        try {
          await conn.write(enc.encode("1,"));
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await closed;
    } finally {
      conn.close();
    }
    await assertServing(e);
  });
});

Deno.test("1 MB of headers, or a 100 KB path, gets 431 and the server keeps serving", async () => {
  await withIngress({}, async (e) => {
    const big = await e.fetch(`${e.base}/endpoint`, {
      method: "POST",
      headers: { "x-big": "a".repeat(1024 * 1024) },
      body: "{}",
    });
    assert.equal(big.status, 431);
    assert.match((await big.json()).error, /request line and headers are larger than 16384 bytes/);

    const many: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) many[`x-h${i}`] = "v".repeat(100);
    const manyHeaders = await e.fetch(`${e.base}/endpoint`, { method: "POST", headers: many });
    assert.equal(manyHeaders.status, 431);
    await manyHeaders.body?.cancel();

    // fetch refuses such a URL itself: the request is written by hand.
    const conn = await connect(e);
    try {
      const answer = readUntilClosed(conn, 15_000);
      await conn.write(enc.encode(
        `GET /admin/logs/${"x".repeat(100 * 1024)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
      )).catch(() => {}); // the server may close before it has read it all
      assert.match(await answer, /^HTTP\/1\.1 431 /);
    } finally {
      conn.close();
    }
    assert.ok(e.lines.some((l) => /WARN +http\.client-error .*status=431/.test(l)));
    await assertServing(e);
  });
});
