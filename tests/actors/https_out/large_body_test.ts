/**
 * Large HTTPS deliveries do not hold the engine's one JS thread: a ~40 MB JSON delivery (the
 * default `limits.maxJsonBytes`) and a 20 MB HL7v2 one go through the real `DeliveryActor`, Store
 * (KV file), `HttpsDeliverer` and `FetchSender` to a receiver in a Worker, while a timer on the
 * test's thread measures the longest time work held it. The bytes on the wire are the stored
 * message's (the HL7's UTF-8 text), byte for byte, with `content-length` (no chunked encoding), and
 * a retry after the receiver failed in the middle of the body sends the whole body again. AWS
 * SigV4 hashes a large body a step at a time, to the signature aws4 gives when it hashes it.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
// @ts-types="@types/aws4"
import aws4 from "aws4";
import { hl7Utf8InOneGo } from "../../../actors/https_out/hl7_body.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { FetchSender } from "../../../transports/https/fetch_sender.ts";
import { makePki } from "../../helpers/tls.ts";
import { waitFor } from "../../helpers/net.ts";
import { strategyFor } from "./fixtures/call.ts";
import { httpsDestinationConfig } from "./fixtures/config.ts";
import {
  startHttpsOutbound,
  TOKEN,
  tokenConfig,
  waitForBackoff,
} from "./fixtures/https_outbound.ts";
import { assertHeldBelow } from "../../helpers/thread_hold.ts";
import { type LoopWatchResult, watchLoop } from "./fixtures/loop_watch.ts";
import { startRawReceiver } from "./fixtures/raw_receiver.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

/**
 * Longest the thread may be held at once during a large delivery (CPU ms, in 10 ms steps), in at
 * least one of {@link assertHeldBelow}'s runs. Here the 20 MB HL7 delivery holds it 30-40 ms and
 * the 40 MB JSON one 20-40 ms; decoding the 20 MB HL7 in one go holds it 370-490 ms, sending the
 * 40 MB body in one go 260-340 ms, in every run. The HL7 test comes first: run after the JSON
 * one, it held the thread 50-90 ms in most runs, in the store's `new Uint8Array` of the 20 MB
 * payload (a collection that allocation set off, of the buffers the JSON test left: never when the
 * HL7 test runs alone or first; the JSON test after it is not held so).
 */
const MAX_HELD_MS = 100;
/**
 * Longest signing may hold the thread: here 10-20 ms; aws4 hashing the 100 MB in one go, 60-90 ms
 * in every run. The CPU clock counts in 10 ms steps: 30 would fail a run at 30 ms, which a machine
 * half as fast gives the good code, while the one-go hash still fails all three runs at 50.
 */
const MAX_SIGN_HELD_MS = 50;

/** A run's figure for {@link assertHeldBelow}, with the holds the watch saw. */
function holdRun(stall: LoopWatchResult): { held: number; detail: string } {
  return { held: stall.heldMs, detail: `end:held/gap ${stall.holds.join(" ")}` };
}

/**
 * A JSON bundle of just under `bytes` bytes (UTF-8, some non-ASCII), written entry by entry into
 * one buffer: no large string or list is left behind for a collection during the measurement.
 */
function bigJson(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const encoder = new TextEncoder();
  let size = encoder.encodeInto(`{"resourceType":"Bundle","entry":[`, out).written;
  for (let i = 0; size < bytes - 1000; i++) {
    const e = JSON.stringify({
      resource: {
        resourceType: "Observation",
        id: `obs-${i}`,
        note: `Müller ${"x".repeat(i % 300)}`,
      },
    });
    size += encoder.encodeInto(`${i === 0 ? "" : ","}${e}`, out.subarray(size)).written;
  }
  size += encoder.encodeInto("]}", out.subarray(size)).written;
  return out.subarray(0, size);
}

// The HL7 test before the JSON one: see MAX_HELD_MS.

/**
 * A ~`bytes` HL7v2 ORU in windows-1252 (no MSH-18, not UTF-8: decoded by the fallback), written
 * line by line into one buffer: no large string or list is left behind for a collection during
 * the measurement.
 */
function bigHl7(bytes: number): Uint8Array {
  const head = "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01|C1|P|2.5.1\r" +
    "PID|1||123^^^HOSP^MR||DUPRÉ^RENÉE\r";
  const obx = (i: number) =>
    `OBX|${i}|TX|NOTE||Résultat ${i} ${"é".repeat(i % 50)} ${"a".repeat(400)}\r`;
  const out = new Uint8Array(bytes);
  let size = 0;
  // One byte per character: windows-1252 for "é" is 0xE9.
  const put = (text: string) => {
    for (let k = 0; k < text.length; k++) out[size++] = text.charCodeAt(k);
  };
  put(head);
  for (let i = 1; size < bytes - 1000; i++) put(obx(i));
  return out.subarray(0, size);
}

Deno.test("a 20 MB HL7v2 delivery in a fallback charset is sent as its UTF-8 text without holding the thread for long", async () => {
  const payload = bigHl7(20_000_000);
  /** What `decodeHl7` reads, as labelled UTF-8: made after the first measurement (see bigHl7). */
  let expected: Uint8Array | undefined;
  await assertHeldBelow({
    boundMs: MAX_HELD_MS,
    what: "the engine's thread",
    run: async (attempt) => {
      const key = `oru${attempt}`;
      const receiver = await startRawReceiver(pki);
      const out = await startHttpsOutbound({
        config: tokenConfig(`${receiver.origin}/hl7`, { timeoutSeconds: 120 }),
        caCert: pki.caCert,
        deferStart: true,
      });
      try {
        await out.enqueue({ key, payload, contentType: "application/hl7-v2" });
        const watch = watchLoop();
        out.start();
        await waitFor(
          "delivered",
          async () => (await out.logOf(key)).status === "SUCCEEDED",
          120_000,
        );
        const stall = watch.stop();
        expected ??= hl7Utf8InOneGo(payload);
        assert.ok(expected.length > payload.length, "some characters take two bytes in UTF-8");
        await receiver.received(1);
        const [got] = receiver.requests;
        assert.equal(got?.complete, true);
        assert.equal(got!.headers.get("content-type"), "text/plain; charset=utf-8");
        assert.equal(got!.headers.get("content-length"), String(expected.length));
        assert.equal(got!.headers.get("transfer-encoding"), undefined);
        assert.ok(Buffer.from(got!.body).equals(Buffer.from(expected)), "the body differs");
        return holdRun(stall);
      } finally {
        await out.stop();
        await receiver.close();
      }
    },
  });
});

Deno.test("a 40 MB JSON delivery over HTTPS never holds the thread for long, sends the stored bytes with content-length, and a retry after a failure mid-body sends them all again", async () => {
  const payload = bigJson(40_000_000);
  assert.ok(payload.length > 39_000_000 && payload.length <= 40_000_000, `${payload.length}`);
  await assertHeldBelow({
    boundMs: MAX_HELD_MS,
    what: "the engine's thread",
    // Each run its own receiver, actor and store: the first request fails mid-body again.
    run: async (attempt) => {
      const key = `big${attempt}`;
      const clock = new ManualClock();
      // The first request is dropped after 1 MB of its body; the second is read to the end.
      const receiver = await startRawReceiver(pki, { failAfter: [1_000_000] });
      const out = await startHttpsOutbound({
        config: tokenConfig(`${receiver.origin}/bundles`, { timeoutSeconds: 120 }),
        caCert: pki.caCert,
        clock,
        deferStart: true,
      });
      try {
        await out.enqueue({ key, payload, contentType: "application/json" });
        const watch = watchLoop();
        out.start();
        await waitForBackoff(out, clock, key, 1);
        clock.advance(0); // the first retry is immediate
        await waitFor(
          "the retry delivered",
          async () => (await out.logOf(key)).status === "SUCCEEDED",
          120_000,
        );
        const stall = watch.stop();
        await receiver.received(2);
        const [failed, whole] = receiver.requests;
        assert.equal(failed?.complete, false);
        assert.equal(whole?.complete, true);
        const log = await out.logOf(key);
        assert.deepEqual(log.attempts.map((a) => a.outcome), ["FAILED", "SUCCEEDED"]);
        // Byte for byte the stored message, sent whole on the retry.
        const stored = await out.store.getMessage(log.messageId);
        const bytes = await out.store.getPayload(stored!);
        assert.ok(Buffer.from(whole!.body).equals(Buffer.from(payload)), "the body differs");
        assert.ok(Buffer.from(bytes).equals(Buffer.from(payload)), "the store changed the payload");
        assert.ok(
          Buffer.from(failed!.body).equals(Buffer.from(payload.subarray(0, failed!.body.length))),
          "the failed attempt's first bytes differ",
        );
        // The same head both times: content-length, never chunked.
        for (const r of [failed!, whole!]) {
          assert.match(r.head, /^POST \/bundles HTTP\/1\.1\r\n/);
          assert.equal(r.headers.get("content-length"), String(payload.length));
          assert.equal(r.headers.get("transfer-encoding"), undefined);
          assert.equal(r.headers.get("content-type"), "application/json");
          assert.equal(r.headers.get("verification-token"), TOKEN);
          assert.equal(r.headers.get("authorization"), `Bearer ${TOKEN}`);
        }
        assert.deepEqual([...failed!.headers.keys()], [...whole!.headers.keys()]);
        return holdRun(stall);
      } finally {
        await out.stop();
        await receiver.close();
      }
    },
  });
});

/** The headers the strategy gave before bodies were hashed here: aws4 hashing the body itself. */
function aws4Headers(
  request: { url: string; headers: Record<string, string>; body: Uint8Array },
  auth: { service: string; region: string; sessionToken?: string },
  amzDate: string,
): Record<string, string> {
  const url = new URL(request.url);
  const signed = aws4.sign({
    host: url.host,
    path: `${url.pathname}${url.search}`,
    method: "POST",
    service: auth.service,
    region: auth.region,
    headers: { ...request.headers, "x-amz-date": amzDate },
    body: request.body as unknown as string,
  }, {
    accessKeyId: KEY_ID,
    secretAccessKey: SECRET,
    ...(auth.sessionToken ? { sessionToken: auth.sessionToken } : {}),
  });
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length" || value === undefined) continue;
    if (request.headers[lower] === String(value)) continue;
    out[lower] = String(value);
  }
  return out;
}

const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

for (const service of ["execute-api", "s3"]) {
  Deno.test(`aws sigv4 (${service}) signs a 100 MB body a step at a time, to the headers aws4 gives when it hashes the body`, async () => {
    const sessionToken = "FwoGZXIvYXdzEBYaDEXAMPLESESSIONTOKEN//+==";
    const https = httpsDestinationConfig({
      https: {
        url: "https://127.0.0.1:1/unused",
        verificationToken: { env: "VT" },
        auth: {
          type: "aws-sigv4",
          region: "eu-west-1",
          service,
          accessKeyId: { env: "KEY_ID" },
          secretAccessKey: { env: "SECRET" },
          sessionToken: { env: "SESSION" },
        },
      },
      env: { VT: "verify-me", KEY_ID, SECRET, SESSION: sessionToken },
    }).https;
    const sender = new FetchSender();
    try {
      const { strategy } = strategyFor(https, sender);
      const body = new Uint8Array(100_000_000);
      for (let i = 0; i < body.length; i += 997) body[i] = i % 251;
      const request = {
        url: "https://bucket.example.com/prod/a%20b/%C3%BC?b=2&a=1",
        headers: { "content-type": "application/json", "verification-token": "verify-me" },
        body,
      };
      await assertHeldBelow({
        boundMs: MAX_SIGN_HELD_MS,
        what: "signing",
        // Another run signs again (the strategy caches nothing).
        run: async () => {
          const watch = watchLoop();
          const got = await strategy.apply({ method: "POST", ...request });
          const stall = watch.stop();
          const want = aws4Headers(
            request,
            { service, region: "eu-west-1", sessionToken },
            got["x-amz-date"]!,
          );
          assert.deepEqual(got, want);
          assert.equal("x-amz-content-sha256" in got, service === "s3");
          return holdRun(stall);
        },
      });
    } finally {
      sender.close();
    }
  });
}
