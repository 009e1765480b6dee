import assert from "node:assert/strict";
import { type Ingress, withIngress } from "./ingress_fixture.ts";
import { readResponse } from "./raw_http.ts";
import { waitFor } from "../../helpers/net.ts";

const enc = new TextEncoder();
const LIMIT = 64 * 1024;

async function connect(e: Ingress): Promise<Deno.TlsConn> {
  return await Deno.connectTls({ hostname: "127.0.0.1", port: e.port, caCerts: [e.pki.caCert] });
}

const head = (token: string, extra: string) =>
  `POST /endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
  `Content-Type: application/json\r\n${extra}\r\n`;

Deno.test("endpoint answers 413 from Content-Length alone, before any of the body is sent", async () => {
  await withIngress({ limits: { maxJsonBytes: LIMIT } }, async (e) => {
    const token = await e.secretToken();
    const conn = await connect(e);
    try {
      // Only the headers go out: the server must not wait for the promised body.
      await conn.write(enc.encode(head(token, `Content-Length: ${LIMIT + 1}\r\n`)));
      const r = await readResponse(conn, 5_000);
      assert.equal(r.status, 413);
      assert.deepEqual(JSON.parse(r.body), {
        Meta: {
          Errors: [{
            Text: `the body (Content-Length ${
              LIMIT + 1
            }) is larger than the limit of ${LIMIT} bytes`,
          }],
        },
      });
    } finally {
      conn.close();
    }
    // A body of exactly the limit is read (and refused only as JSON).
    const exact = await e.post(" ".repeat(LIMIT - 2) + "{}", token);
    assert.equal(exact.status, 200, JSON.stringify(exact.json));
    assert.equal(e.inbox.requests.length, 1);
    assert.ok(e.lines.some((l) => /WARN +endpoint\.too-large .*declared=65537/.test(l)));
  });
});

Deno.test("endpoint answers 413 to a chunked body that never ends, as soon as it crosses the limit", async () => {
  await withIngress({ limits: { maxJsonBytes: LIMIT } }, async (e) => {
    const token = await e.secretToken();
    const conn = await connect(e);
    try {
      await conn.write(enc.encode(head(token, "Transfer-Encoding: chunked\r\n")));
      // 20 chunks of 4 KiB: 80 KiB, over the 64 KiB limit; the terminating chunk is never sent.
      const piece = "[" + "1,".repeat(2047) + "1";
      for (let i = 0; i < 20; i++) {
        await conn.write(enc.encode(`${piece.length.toString(16)}\r\n${piece}\r\n`));
      }
      const r = await readResponse(conn, 5_000);
      assert.equal(r.status, 413);
      assert.equal(
        JSON.parse(r.body).Meta.Errors[0].Text,
        `the body is larger than the limit of ${LIMIT} bytes`,
      );
    } finally {
      conn.close();
    }
    assert.equal(e.inbox.requests.length, 0);
    assert.ok(e.lines.some((l) => /WARN +endpoint\.too-large .*read=\d+/.test(l)));
  });
});

Deno.test("endpoint answers 429 with X-RateLimit headers and Retry-After past the per-IP limit", async () => {
  await withIngress({ limits: { rateLimitPerIp: 3, rateLimitWindowSeconds: 60 } }, async (e) => {
    const token = await e.secretToken();
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await e.post("{}", token);
      assert.equal(r.status, 200);
      remaining.push(r.headers.get("x-ratelimit-remaining"));
    }
    assert.deepEqual(remaining, ["2", "1", "0"]);
    const refused = await e.post("{}", token);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("x-ratelimit-limit"), "3");
    assert.equal(refused.headers.get("x-ratelimit-remaining"), "0");
    const retry = Number(refused.headers.get("retry-after"));
    // Counted in 2 s slices: the oldest request leaves the window within 60 s plus one slice.
    assert.ok(retry >= 1 && retry <= 62, `Retry-After ${retry}`);
    assert.match(
      refused.json.Meta.Errors[0].Text,
      /more than 3 requests from 127\.0\.0\.1 within 60 s; retry in \d+ s/,
    );
    // The limit is per address, before authentication: no token does not get around it.
    assert.equal((await e.post("{}", null)).status, 429);
    assert.equal(e.inbox.requests.length, 3);
  });
});

Deno.test("endpoint stores nothing from a body cut off by a disconnect or broken chunk framing", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const bodyFailed = () => e.lines.filter((l) => l.includes("endpoint.body-failed")).length;
    // The client goes away after the first chunk, which is valid JSON on its own.
    const gone = await connect(e);
    await gone.write(enc.encode(head(token, "Transfer-Encoding: chunked\r\n") + "2\r\n{}\r\n"));
    await new Promise((r) => setTimeout(r, 200));
    gone.close();
    await waitFor("the cut body logged", () => bodyFailed() > 0).catch(() => {});
    assert.equal(bodyFailed(), 1, e.lines.join("\n"));
    assert.match(
      e.lines.find((l) => l.includes("endpoint.body-failed"))!,
      /WARN +.*source=lab-secret/,
    );

    // Chunk framing the HTTP layer cannot follow: answered 400, then the connection is closed
    // (refusals_test.ts has each kind of broken framing).
    const broken = await connect(e);
    try {
      await broken.write(enc.encode(head(token, "Transfer-Encoding: chunked\r\n")));
      await broken.write(enc.encode("2\r\n{}\r\nzz-not-a-size\r\n"));
      const r = await readResponse(broken, 5_000);
      assert.equal(r.status, 400);
      assert.equal(r.headers.get("connection"), "close");
    } finally {
      broken.close();
    }
    assert.equal(e.inbox.requests.length, 0, "nothing reached the inbox");
    assert.ok(!e.lines.some((l) => l.includes("endpoint.failed")), "no internal error");
  });
});
