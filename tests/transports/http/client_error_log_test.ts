import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import {
  CLIENT_ERROR_BURST,
  CONNECTION_LOG_INTERVAL_MS,
  servePublic,
} from "../../../transports/http/serve.ts";
import { untilLogged } from "../../helpers/log_flood.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One connection sending bytes that are not HTTP; returns what it was answered, to the close. */
async function notHttp(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let got = "";
  try {
    await conn.write(enc.encode("\x16\x03\x01 this is not HTTP\r\n\r\n"));
    const buf = new Uint8Array(4096);
    // Bounded: the server answers 400, then closes.
    for (let i = 0; i < 100; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += dec.decode(buf.subarray(0, n));
    }
  } catch {
    // A reset is a close too.
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
  return got;
}

const refusedOf = (line: string) => Number(/ refused=(\d+)/.exec(line)?.[1] ?? NaN);

Deno.test("http.client-error: 200 connections that are not HTTP from one address write a bounded number of lines, then one counting those held back", async () => {
  const clock = new ManualClock();
  const log = memoryLogger();
  const server = await servePublic({
    fetch: () => new Response("ok"),
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log,
    now: () => clock.now(),
  });
  try {
    const lines = () => log.lines.filter((l) => l.includes(" http.client-error "));
    for (let i = 0; i < 200; i++) {
      // Each is still answered 400 (logged or not).
      assert.match(await notHttp(server.port), /^HTTP\/1\.1 400 /);
    }
    assert.equal(lines().length, CLIENT_ERROR_BURST);
    assert.match(lines()[0]!, /WARN +http\.client-error remote=127\.0\.0\.1:\d+ status=400 /);
    assert.ok(lines().every((l) => refusedOf(l) === 1));

    clock.advance(CONNECTION_LOG_INTERVAL_MS);
    await notHttp(server.port);
    await untilLogged(log, "the next line", () => lines().length === CLIENT_ERROR_BURST + 1);
    assert.equal(refusedOf(lines().at(-1)!), 201 - CLIENT_ERROR_BURST);

    // A good client is still served.
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(await res.text(), "ok");
  } finally {
    await server.shutdown();
  }
});
