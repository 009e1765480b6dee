import assert from "node:assert/strict";
import { Secret } from "../../../actors/config/secret.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { CONNECTION_LOG_INTERVAL_MS, servePublic } from "../../../transports/http/serve.ts";
import { makePki } from "../../helpers/tls.ts";

const enc = new TextEncoder();

/**
 * One connection that sends plain HTTP to the TLS port (as a port scanner or a misconfigured
 * client does) and waits until the server closed it: its handshake failed.
 */
async function plainTextToTlsPort(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(1024);
    // Bounded: the server answers a TLS alert at most, then closes.
    for (let i = 0; i < 100; i++) if ((await conn.read(buf)) === null) break;
  } catch {
    // A reset is a close too.
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** Waits, on the logger's own lines, until `done` holds (bounded by the test's timeout). */
async function until(log: { lines: string[] }, what: string, done: () => boolean) {
  for (let i = 0; i < 2_000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), `${what}:\n${log.lines.join("\n")}`);
}

/** The `failed=` count of an `http.tls-failed` line. */
const failedOf = (line: string) => Number(/ failed=(\d+)/.exec(line)?.[1] ?? NaN);

Deno.test("http.tls-failed: 200 failed handshakes from one address write one line, then one counting those held back, and a good client is still served", async () => {
  const pki = await makePki();
  const clock = new ManualClock();
  const log = memoryLogger();
  const server = await servePublic({
    fetch: () => new Response("ok"),
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
    log,
    now: () => clock.now(),
  });
  const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
  try {
    const tlsFailed = () => log.lines.filter((l) => l.includes(" http.tls-failed "));
    for (let i = 0; i < 200; i++) await plainTextToTlsPort(server.port);
    await until(log, "the first failure logged", () => tlsFailed().length >= 1);
    // Every failure was seen, yet one line only: the first, with its reason.
    const [first, ...more] = tlsFailed();
    assert.deepEqual(more, [], "more than one line within the interval");
    assert.match(first!, /^\S+ WARN +http\.tls-failed remote=127\.0\.0\.1:\d+ reason=\S+/);
    assert.equal(failedOf(first!), 1);

    // The interval passes: the next failure is logged, counting the 199 held back and itself.
    clock.advance(CONNECTION_LOG_INTERVAL_MS);
    await plainTextToTlsPort(server.port);
    await until(log, "the next line", () => tlsFailed().length === 2);
    assert.equal(failedOf(tlsFailed()[1]!), 200);
    assert.match(tlsFailed()[1]!, / reason=\S+/);

    // The engine still serves a good client.
    const res = await fetch(`https://127.0.0.1:${server.port}/`, { client });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    assert.equal(tlsFailed().length, 2);
  } finally {
    client.close();
    await server.shutdown();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
