import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { CONNECTION_LOG_INTERVAL_MS } from "../../../transports/http/serve.ts";
import { sendAndClose, untilLogged } from "../../helpers/log_flood.ts";
import { makePki } from "../../helpers/tls.ts";
import { httpsServer } from "./tls_server_fixture.ts";

const enc = new TextEncoder();
/** Plain HTTP to the HTTPS port: the TLS handshake fails. */
const plainHttp = enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

/** The `failed=` count of an `http.tls-failed` line. */
const failedOf = (line: string) => Number(/ failed=(\d+)/.exec(line)?.[1] ?? NaN);

Deno.test("http.tls-failed: 200 failed handshakes from one address write one line, then one counting those held back, and a good client is still served", async () => {
  const pki = await makePki();
  const clock = new ManualClock();
  const log = memoryLogger();
  const server = await httpsServer(pki, log, clock);
  const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
  try {
    const tlsFailed = () => log.lines.filter((l) => l.includes(" http.tls-failed "));
    for (let i = 0; i < 200; i++) await sendAndClose(server.port, plainHttp);
    await untilLogged(log, "the first failure logged", () => tlsFailed().length >= 1);
    // Every failure was seen, yet one line only: the first, with its reason.
    const [first, ...more] = tlsFailed();
    assert.deepEqual(more, [], "more than one line within the interval");
    assert.match(first!, /^\S+ WARN +http\.tls-failed remote=127\.0\.0\.1:\d+ reason=\S+/);
    assert.equal(failedOf(first!), 1);

    // The interval passes: the next failure is logged, counting the 199 held back and itself.
    clock.advance(CONNECTION_LOG_INTERVAL_MS);
    await sendAndClose(server.port, plainHttp);
    await untilLogged(log, "the next line", () => tlsFailed().length === 2);
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
