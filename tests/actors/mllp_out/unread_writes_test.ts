/**
 * An MLLP destination that accepts the connection and stops reading (a hung application, a full
 * disk on its side): once the socket buffers are full the message's write is taken no further.
 * The ACK timeout covers that write, an operator's skip and the engine's stop end it at once, and
 * the queue goes on. A real receiver on loopback that never reads; both socket connectors.
 */

import assert from "node:assert/strict";
import { adt, waitFor } from "../../helpers/net.ts";
import { startOutbound } from "../../helpers/outbound.ts";

/** A listener that accepts every connection and never reads from it. */
function deafReceiver() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    conns,
    async close() {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

/** `promise`, or a failure naming `what` if it has not settled within `ms` (it would hang). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** An ADT^A01 of ~24 MB: more than loopback's socket buffers hold on both sides together. */
function hugeAdt(controlId: string): string {
  return adt(controlId) + `\rNTE|1||${"X".repeat(24 * 1024 * 1024)}`;
}

for (const threaded of [false, true]) {
  const where = threaded ? "socket thread" : "engine's thread";

  Deno.test(`a write the destination stops taking fails at the ACK timeout, saying so, and is retried (${where})`, async () => {
    const deaf = deafReceiver();
    const out = await startOutbound({ port: deaf.port, threaded, ackTimeoutMs: 700 });
    try {
      await out.enqueueMessage("HUGE", { payload: hugeAdt("HUGE") });
      await waitFor("a failed attempt", async () => (await out.logOf("HUGE")).attemptCount >= 1);
      const log = await out.logOf("HUGE");
      assert.equal(log.status, "PENDING");
      assert.match(
        log.attempts[0]!.reason ?? "",
        /^the destination took no more of the message for 0\.7 s \(it stopped reading\); socket closed$/,
      );
      // Tried again on a new connection.
      await waitFor("a second connection", () => deaf.conns.length >= 2);
    } finally {
      await within(out.stop(), 10_000, "the actor's stop");
      await deaf.close();
    }
  });

  Deno.test(`a skip ends a write the destination does not take, and the next message goes out; the actor stops at once (${where})`, async () => {
    const deaf = deafReceiver();
    const out = await startOutbound({ port: deaf.port, threaded, ackTimeoutMs: 60_000 });
    let stopped = false;
    try {
      await out.enqueueMessage("HUGE", { payload: hugeAdt("HUGE") });
      await out.enqueue("NEXT");
      await waitFor("the huge write under way", async () => {
        const status = await out.actor.status();
        return status.state === "sending" && deaf.conns.length === 1;
      });
      const skipped = await within(
        out.actor.command("skip", "test", "the destination is hung"),
        10_000,
        "the skip",
      );
      assert.equal(skipped.ok, true, skipped.message);
      await waitFor(
        "the huge message dead-lettered",
        async () => (await out.logOf("HUGE")).status === "FAILED",
      );
      // The next one is written on a new connection (its ACK never comes: the receiver is deaf).
      await waitFor("NEXT on the wire", async () => {
        const status = await out.actor.status();
        return status.state === "awaiting-ack" && deaf.conns.length === 2;
      });
      // Stopping does not wait for the 60 s ACK timeout either.
      await within(out.stop(), 10_000, "the actor's stop");
      stopped = true;
    } finally {
      if (!stopped) await within(out.stop(), 10_000, "the actor's stop");
      await deaf.close();
    }
  });

  Deno.test(`stopping ends a write the destination does not take (${where})`, async () => {
    const deaf = deafReceiver();
    const out = await startOutbound({ port: deaf.port, threaded, ackTimeoutMs: 60_000 });
    try {
      await out.enqueueMessage("HUGE", { payload: hugeAdt("HUGE") });
      await waitFor(
        "the huge write under way",
        async () => (await out.actor.status()).state === "sending" && deaf.conns.length === 1,
      );
      await within(out.stop(), 10_000, "the actor's stop");
    } finally {
      await within(out.stop(), 10_000, "the actor's stop");
      await deaf.close();
    }
  });
}
