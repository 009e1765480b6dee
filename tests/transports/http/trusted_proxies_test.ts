/**
 * `http.trustedProxies`: only a request whose TCP peer is a trusted proxy has its client address
 * read from `X-Forwarded-For` (walked from the right, trusted hops skipped); a forged header from
 * any other peer is ignored; a missing or malformed header from a proxy falls back to the peer,
 * with one `http.forwarded-for-refused` line per proxy and reason per throttle window. The config
 * names an entry that is not an address or range. A request with two `Host` headers gets 400.
 * Real loopback sockets through `servePublic`.
 * @module
 */

import assert from "node:assert/strict";
import { Hono } from "hono";
import { parseConfig } from "../../../actors/config/mod.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { peerIp } from "../../../transports/http/peer.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { readResponse, sendRaw } from "./raw_http.ts";

const enc = new TextEncoder();

/** An app answering with the client address and proxy it sees, behind `trustedProxies`. */
async function withServer(
  trustedProxies: string[] | undefined,
  fn: (call: (headers: [string, string][]) => Promise<string>, lines: string[]) => Promise<void>,
): Promise<void> {
  const app = new Hono().get("/who", (c) => {
    const via = (c.env as { via?: Deno.NetAddr }).via;
    return c.text(`${peerIp(c)} ${via ? `${via.hostname}:${via.port}` : "-"}`);
  });
  const log = memoryLogger();
  const server = await servePublic({
    fetch: app.fetch,
    http: {
      port: 0,
      hostname: "127.0.0.1",
      development: true,
      ...(trustedProxies ? { trustedProxies } : {}),
    },
    log,
  });
  // Raw requests: several header lines of one name are sent as they are.
  const call = async (headers: [string, string][]) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      const lines = headers.map(([n, v]) => `${n}: ${v}\r\n`).join("");
      await conn.write(
        enc.encode(`GET /who HTTP/1.1\r\nHost: engine\r\n${lines}Connection: close\r\n\r\n`),
      );
      const r = await readResponse(conn, 10_000);
      assert.equal(r.status, 200, r.body);
      return r.body.replace(/:\d+$/, ":port");
    } finally {
      conn.close();
    }
  };
  try {
    await fn(call, log.lines);
  } finally {
    await server.shutdown();
  }
}

Deno.test("trusted proxies: X-Forwarded-For is ignored from a peer that is not a trusted proxy (as without the key), read from one that is", async () => {
  for (const trusted of [["10.0.0.0/8", "fd00::/8"], undefined]) {
    await withServer(trusted, async (call, lines) => {
      assert.equal(await call([["X-Forwarded-For", "203.0.113.7"]]), "127.0.0.1 -");
      assert.equal(await call([["X-Forwarded-For", "bogus"]]), "127.0.0.1 -");
      assert.equal(await call([]), "127.0.0.1 -");
      assert.deepEqual(lines.filter((l) => l.includes("forwarded-for")), []);
    });
  }
  // The same header from a trusted peer names the client.
  await withServer(["10.0.0.0/8", "127.0.0.1/32"], async (call) => {
    assert.equal(
      await call([["X-Forwarded-For", "203.0.113.7"]]),
      "203.0.113.7 127.0.0.1:port",
    );
  });
});

Deno.test("trusted proxies: from a trusted proxy the rightmost untrusted X-Forwarded-For address is the client", async () => {
  await withServer(["127.0.0.1", "10.0.0.0/8", "2001:db8:1::/48"], async (call, lines) => {
    const via = "127.0.0.1:port";
    assert.equal(await call([["X-Forwarded-For", "203.0.113.7"]]), `203.0.113.7 ${via}`);
    // What the client sent itself (left of its own address) is never read, garbage or not.
    assert.equal(
      await call([["X-Forwarded-For", "not-an-ip, 198.51.100.1, 203.0.113.8, 10.1.2.3"]]),
      `203.0.113.8 ${via}`,
    );
    // Several lines are one list, in order; trusted IPv6 hops are skipped; IPv6 is canonical.
    assert.equal(
      await call([
        ["X-Forwarded-For", "2001:DB8:2::0:1"],
        ["X-Forwarded-For", "2001:db8:1::5,"],
      ]),
      `2001:db8:2::1 ${via}`,
    );
    // Every hop trusted: the farthest one.
    assert.equal(await call([["X-Forwarded-For", "10.9.9.9, 127.0.0.1"]]), `10.9.9.9 ${via}`);
    assert.deepEqual(lines.filter((l) => l.includes("http.forwarded-for-refused")), []);
  });
});

Deno.test("trusted proxies: a missing or malformed X-Forwarded-For falls back to the peer, logged once per proxy and reason", async () => {
  await withServer(["127.0.0.0/8"], async (call, lines) => {
    const refused = () => lines.filter((l) => l.includes("http.forwarded-for-refused"));
    for (let i = 0; i < 3; i++) {
      assert.equal(await call([["X-Forwarded-For", "203.0.113.7, bogus"]]), "127.0.0.1 -");
    }
    assert.equal(refused().length, 1, refused().join("\n"));
    assert.match(refused()[0]!, /not an IP address/);
    assert.match(refused()[0]!, /bogus/);
    for (const bad of ["203.0.113.7:4711", "[2001:db8::1]", "1.2.3.04", "x".repeat(300)]) {
      assert.equal(await call([["X-Forwarded-For", bad]]), "127.0.0.1 -", bad);
    }
    assert.equal(await call([]), "127.0.0.1 -");
    assert.equal(await call([["X-Forwarded-For", " , "]]), "127.0.0.1 -");
    // More trusted hops than are walked.
    const hops = Array.from({ length: 33 }, (_, i) => `127.0.0.${i + 1}`).join(", ");
    assert.equal(await call([["X-Forwarded-For", hops]]), "127.0.0.1 -");
    const reasons = refused().map((l) => l.replace(/.*reason[^a-z]*/i, "").slice(0, 20));
    assert.ok(refused().some((l) => l.includes("missing")), reasons.join("\n"));
    assert.ok(refused().some((l) => l.includes("empty")), reasons.join("\n"));
    assert.ok(refused().some((l) => l.includes("more than 32")), reasons.join("\n"));
    // The forged-looking but well-formed header from the proxy is used again.
    assert.equal(await call([["X-Forwarded-For", "203.0.113.9"]]), "203.0.113.9 127.0.0.1:port");
  });
});

Deno.test("trusted proxies: the config names an entry that is not an IP address or CIDR range", () => {
  const base = {
    environments: [{ id: "dev", type: "development" }],
    http: { port: 0, hostname: "127.0.0.1", development: true },
  };
  const sources = { env: () => undefined, readFile: () => new Error("none") };
  const ok = parseConfig({
    ...base,
    http: { ...base.http, trustedProxies: ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"] },
  }, sources);
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  assert.deepEqual(ok.config.http.trustedProxies, ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"]);
  const absent = parseConfig(base, sources);
  assert.ok(absent.ok);
  assert.equal(absent.config.http.trustedProxies, undefined);
  for (const bad of ["proxy.example.org", "10.0.0.0/33", "10.0.0.256", "fd00::/129", ""]) {
    const result = parseConfig({
      ...base,
      http: { ...base.http, trustedProxies: ["127.0.0.1", bad] },
    }, sources);
    assert.equal(result.ok, false, bad);
    const problems = result.ok ? [] : result.problems;
    const problem = problems.find((p) => p.path === "$.http.trustedProxies[1]");
    assert.ok(problem, `${bad}: ${JSON.stringify(problems)}`);
    assert.ok(problem.message.includes(JSON.stringify(bad)), problem.message);
    assert.match(problem.message, /not an IP address or CIDR range/);
  }
});

Deno.test("http: a request with two Host headers is answered 400 and the connection closed", async () => {
  const { response: r, served } = await sendRaw(
    "GET /x HTTP/1.1\r\nHost: engine\r\nhost: other\r\n\r\n",
  );
  assert.equal(r.status, 400);
  assert.match(r.body, /more than one Host header/);
  assert.equal(r.headers.get("connection"), "close");
  assert.equal(served, 0);
});
