import assert from "node:assert/strict";
import { buildAck, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { connectMllp } from "../../../transports/mllp/client.ts";
import {
  PEER_LOG_BURST,
  PEER_LOG_INTERVAL_MS,
} from "../../../transports/mllp/inbound_connection.ts";
import { serveMllp } from "../../../transports/mllp/server.ts";
import type { MllpInbox } from "../../../actors/ports.ts";
import { adt } from "../../helpers/net.ts";
import { makeClientCert, makePki } from "../../helpers/tls.ts";
import { readToClose, sendAndClose, untilLogged } from "../../helpers/log_flood.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const echoAck: MllpInbox = {
  maxFrameBytes: 1 << 20,
  idleTimeoutMs: () => 5_000,
  oversize: () => new Uint8Array(),
  receive: (f) =>
    Promise.resolve({
      reply: enc.encode(buildAck(parseHl7(dec.decode(f.payload)), { code: "AA" }).encode()),
    }),
};

const linesOf = (log: { lines: string[] }, event: string) =>
  log.lines.filter((l) => l.includes(` ${event} `));
const countOf = (line: string) => Number(/ count=(\d+)/.exec(line)?.[1] ?? 1);
const sum = (lines: string[]) => lines.reduce((n, l) => n + countOf(l), 0);

/** Sends one message over TLS and checks its ACK: the listener still serves a good client. */
async function goodClientServed(port: number, ca: string, client?: { cert: string; key: string }) {
  const signal = new AbortController().signal;
  const conn = await connectMllp(
    { host: "localhost", port, tls: { ca, ...(client ?? {}) } },
    { timeoutMs: 5_000, signal },
  );
  try {
    await conn.send(enc.encode(adt("GOOD1")));
    const got = await conn.receive(AbortSignal.timeout(5_000));
    assert.equal(got.type, "frame");
    if (got.type === "frame") assert.equal(parseHl7(dec.decode(got.payload)).get("MSA-2"), "GOOD1");
  } finally {
    conn.close();
  }
}

Deno.test("MLLP over TLS: 200 failed handshakes from one address write a bounded number of mllp.connection-error lines, then one counting those held back", async () => {
  const pki = await makePki();
  const clock = new ManualClock();
  const log = memoryLogger();
  const server = await serveMllp({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: pki.serverCert, key: pki.serverKey },
    inbox: echoAck,
    log,
    now: () => clock.now(),
  });
  try {
    const plain = enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    for (let i = 0; i < 200; i++) await sendAndClose(server.port, plain, true);
    await untilLogged(log, "every connection closed", () => server.connections === 0);
    const first = linesOf(log, "mllp.connection-error");
    assert.equal(first.length, PEER_LOG_BURST, "one line each for the first ones only");
    assert.match(first[0]!, /WARN +mllp\.connection-error port=\d+ peer=127\.0\.0\.1 .*reason=/);
    assert.ok(first.every((l) => !l.includes(" count=")));

    // The interval passes: the next failure is logged, counting those held back and itself.
    clock.advance(PEER_LOG_INTERVAL_MS);
    await sendAndClose(server.port, plain, true);
    await untilLogged(
      log,
      "the next line",
      () => linesOf(log, "mllp.connection-error").length > 20,
    );
    const all = linesOf(log, "mllp.connection-error");
    assert.equal(all.length, PEER_LOG_BURST + 1);
    assert.equal(countOf(all.at(-1)!), 200 + 1 - PEER_LOG_BURST);
    assert.equal(sum(all), 201);

    await goodClientServed(server.port, pki.caCert);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("MLLP: 200 connections sending stray bytes from one address write a bounded number of mllp.stray-bytes lines, then one counting those held back", async () => {
  const clock = new ManualClock();
  const log = memoryLogger();
  const server = await serveMllp({
    port: 0,
    hostname: "127.0.0.1",
    inbox: echoAck,
    log,
    now: () => clock.now(),
  });
  try {
    const probe = enc.encode("GET / HTTP/1.0\r\n\r\n");
    for (let i = 0; i < 200; i++) {
      await sendAndClose(server.port, probe, false);
      // Each connection's line (if any) is written as it closes.
      await untilLogged(log, "the connection to close", () => server.connections === 0);
    }
    const first = linesOf(log, "mllp.stray-bytes");
    assert.equal(first.length, PEER_LOG_BURST);
    assert.match(first[0]!, / bytes=\d+$/);

    clock.advance(PEER_LOG_INTERVAL_MS);
    await sendAndClose(server.port, probe, false);
    await untilLogged(log, "the next line", () => linesOf(log, "mllp.stray-bytes").length > 20);
    const all = linesOf(log, "mllp.stray-bytes");
    assert.equal(all.length, PEER_LOG_BURST + 1);
    assert.equal(sum(all), 201);
    assert.match(all.at(-1)!, / bytes=\d+ count=\d+$/);
  } finally {
    await server.close();
  }
});

Deno.test("MLLP over mutual TLS: 200 clients presenting an untrusted certificate write one mllp.tls-client-refused line, then one counting those held back", async () => {
  const pki = await makePki();
  const other = await makePki();
  const clock = new ManualClock();
  const log = memoryLogger();
  // Client certificates asked for but optional: one that is presented must be valid.
  const server = await serveMllp({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCert: false },
    inbox: echoAck,
    log,
    now: () => clock.now(),
  });
  try {
    const stranger = await makeClientCert(other, "stranger");
    const tryStranger = async () => {
      const conn = await Deno.connectTls({
        hostname: "localhost",
        port: server.port,
        caCerts: [pki.caCert],
        cert: stranger.cert,
        key: stranger.key,
      });
      // Refused: an alert or a reset, then the close.
      await readToClose(conn);
    };
    for (let i = 0; i < 200; i++) await tryStranger();
    const refused = () => linesOf(log, "mllp.tls-client-refused");
    await untilLogged(log, "the first refusal", () => refused().length >= 1);
    assert.equal(refused().length, 1);
    assert.match(refused()[0]!, /peer=127\.0\.0\.1 reason=/);

    clock.advance(5_000);
    await tryStranger();
    await untilLogged(log, "the next line", () => refused().length === 2);
    assert.equal(countOf(refused()[1]!), 200);

    const good = await makeClientCert(pki, "good");
    await goodClientServed(server.port, pki.caCert, good);
  } finally {
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
    await Deno.remove(other.dir, { recursive: true });
  }
});
