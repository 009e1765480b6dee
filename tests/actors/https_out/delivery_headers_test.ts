/**
 * What names a delivery to an HTTPS receiver (real `DeliveryActor`, Store on a KV file,
 * `FetchSender` and HTTPS receiver on loopback): `x-engine-delivery-id` (the SEND log id) and
 * `x-engine-message-id` (the message as received) are the same on every attempt of a delivery and
 * differ between deliveries; `x-engine-attempt` counts the log's attempts, across a restart too.
 * A query to the same destination is not a delivery and carries none of them.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { makePki } from "../../helpers/tls.ts";
import { waitFor } from "../../helpers/net.ts";
import {
  type HttpsOutbound,
  json,
  startHttpsOutbound,
  tokenConfig,
  waitForBackoff,
} from "./fixtures/https_outbound.ts";
import { type Received, startServer } from "./fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

/** The delivery headers of a received request (null where absent). */
function ids(req: Received | undefined) {
  return {
    delivery: req?.headers.get("x-engine-delivery-id") ?? null,
    message: req?.headers.get("x-engine-message-id") ?? null,
    attempt: req?.headers.get("x-engine-attempt") ?? null,
  };
}

/** What a request for `key` should carry at `attempt`. */
async function expected(out: HttpsOutbound, key: string, attempt: number) {
  const log = await out.logOf(key);
  return { delivery: log.id, message: log.messageId, attempt: String(attempt) };
}

Deno.test("https delivery retried after a 500 keeps its delivery and message ids, attempt 1 then 2; a query has none", async () => {
  const clock = new ManualClock();
  const receiver = startServer(
    () =>
      receiver.requests.length === 1
        ? new Response("busy", { status: 500 })
        : new Response("stored", { status: 201 }),
    pki,
  );
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/hook`),
    caCert: pki.caCert,
    clock,
  });
  try {
    // Two messages with the same body: only their ids tell them apart.
    await out.enqueue({ key: "a", payload: json(1) }, { key: "b", payload: json(1) });
    await waitForBackoff(out, clock, "a", 1);
    clock.advance(0); // the first retry is immediate
    await waitFor("both delivered", async () => (await out.logOf("b")).status === "SUCCEEDED");
    assert.equal(receiver.requests.length, 3);
    const [first, retry, other] = receiver.requests.map(ids);
    assert.deepEqual(first, await expected(out, "a", 1));
    assert.deepEqual(retry, await expected(out, "a", 2));
    assert.deepEqual(other, await expected(out, "b", 1));
    // The SEND log id and the message id as received, different for the other message.
    assert.equal(first?.message, out.messageIdOf("a"));
    assert.equal(other?.message, out.messageIdOf("b"));
    assert.notEqual(other?.delivery, first?.delivery);
    assert.notEqual(other?.message, first?.message);
    assert.equal((await out.logOf("a")).attemptCount, 2);
    // A query to the same destination is not a delivery: no ids.
    const result = await out.destinations.query("ehr", {
      body: new TextEncoder().encode(json(3)),
      contentType: "application/json",
      timeoutMs: 5000,
      signal: new AbortController().signal,
      maxBodyBytes: 4096,
    });
    assert.ok(result?.ok, JSON.stringify(result));
    const query = receiver.requests[3];
    assert.equal(query?.text, json(3));
    assert.ok(query?.headers.get("verification-token"));
    assert.deepEqual(ids(query), { delivery: null, message: null, attempt: null });
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("https delivery of a translation names the message as received, not the translation", async () => {
  const receiver = startServer(() => new Response("ok"), pki);
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/hook`),
    caCert: pki.caCert,
  });
  try {
    const hl7 = "MSH|^~\\&|SND|FAC|RCV|RF|20260101120000||ADT^A08|H-1|P|2.5\rPID|1||MRN1\r";
    await out.enqueue({
      key: "t",
      payload: hl7,
      contentType: "application/hl7-v2",
      translated: { payload: json(7), contentType: "application/json" },
    });
    await waitFor("delivered", async () => (await out.logOf("t")).status === "SUCCEEDED");
    const log = await out.logOf("t");
    assert.ok(log.deliveredId, "the payload delivered is a translation");
    assert.notEqual(log.deliveredId, log.messageId);
    const [req] = receiver.requests;
    assert.equal(req?.text, json(7));
    assert.deepEqual(ids(req), {
      delivery: log.id,
      message: out.messageIdOf("t"),
      attempt: "1",
    });
    assert.equal(log.messageId, out.messageIdOf("t"));
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("https delivery attempt number goes on from the log's count after a restart", async () => {
  const clock = new ManualClock();
  const receiver = startServer(
    () =>
      receiver.requests.length <= 2
        ? new Response("down", { status: 503 })
        : new Response("ok", { status: 200 }),
    pki,
  );
  const out = await startHttpsOutbound({
    config: tokenConfig(`${receiver.origin}/hook`),
    caCert: pki.caCert,
    clock,
  });
  try {
    await out.enqueue({ key: "r", payload: json(1) });
    await waitForBackoff(out, clock, "r", 1);
    clock.advance(0);
    await waitForBackoff(out, clock, "r", 2);
    // A new process (new deliverer, nothing in memory) sends it again at once.
    await out.restart();
    await waitFor("delivered", async () => (await out.logOf("r")).status === "SUCCEEDED");
    const log = await out.logOf("r");
    assert.deepEqual(receiver.requests.map(ids), [
      { delivery: log.id, message: log.messageId, attempt: "1" },
      { delivery: log.id, message: log.messageId, attempt: "2" },
      { delivery: log.id, message: log.messageId, attempt: "3" },
    ]);
    assert.equal(log.attemptCount, 3);
  } finally {
    await out.stop();
    await receiver.close();
  }
});
