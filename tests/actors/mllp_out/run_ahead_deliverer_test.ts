/**
 * The MLLP deliverer's side of run-ahead, against a scripted connection (the port's fake, for an
 * exact account of what it is told): what it gives the connection to send on its own, when it
 * lets it, and how it takes an ACK of a message the connection sent ahead. The real socket thread
 * is tested in `tests/transports/mllp/thread_connector_test.ts` and through the actor in
 * `run_ahead_test.ts` and `delivery_thread_test.ts`.
 */

import assert from "node:assert/strict";
import type { DeliveryJob } from "../../../actors/delivery/deliverer.ts";
import { MllpDeliverer } from "../../../actors/mllp_out/mllp_deliverer.ts";
import type {
  AheadMessage,
  MllpConnection,
  MllpConnector,
  MllpRunAhead,
  Received,
} from "../../../actors/ports.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import type { QueueItem } from "../../../actors/store/requests.ts";
import type { MessageRecord } from "../../../actors/store/types.ts";

const encoder = new TextEncoder();

/** A connection that records what it is told and answers what the test pushes. */
class ScriptedConnection implements MllpConnection, MllpRunAhead {
  readonly calls: string[] = [];
  readonly #frames: Received[] = [];
  #waiter: ((r: Received) => void) | undefined;
  open = true;
  readonly local = "127.0.0.1:1";

  get runAhead(): MllpRunAhead {
    return this;
  }

  send(): Promise<void> {
    this.calls.push("send");
    return Promise.resolve();
  }
  sendKeyed(m: AheadMessage, next?: readonly AheadMessage[]): Promise<void> {
    this.calls.push(`send ${m.key}`);
    if (next) this.follow(m.key, next);
    return Promise.resolve();
  }
  follow(after: string, next: readonly AheadMessage[]): void {
    this.calls.push(`follow ${after} [${next.map((n) => `${n.key}:${n.controlId}`).join(" ")}]`);
  }
  allow(): void {
    this.calls.push("allow");
  }
  hold(): void {
    this.calls.push("hold");
  }
  receive(signal: AbortSignal): Promise<Received> {
    const queued = this.#frames.shift();
    if (queued) return Promise.resolve(queued);
    if (signal.aborted) return Promise.resolve({ type: "aborted" });
    return new Promise((resolve) => (this.#waiter = resolve));
  }
  interrupt(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ type: "aborted" });
  }
  close(): void {
    this.calls.push("close");
    this.open = false;
  }
  /** The peer's ACK of `controlId`, as followed (or not) by the connection. */
  ack(controlId: string, followedBy?: string): void {
    const frame: Received = {
      type: "frame",
      payload: encoder.encode(
        `MSH|^~\\&|R|R|E|E|20260101||ACK|A${controlId}|P|2.5\rMSA|AA|${controlId}`,
      ),
      ...(followedBy ? { followedBy } : {}),
    };
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w) w(frame);
    else this.#frames.push(frame);
  }
}

/**
 * Queue entry `n`: key `00n`, MSH-10 `C<n>` (or `controlId` when a string); `payload: false`
 * leaves its payload in KV.
 */
function entry(
  n: number,
  options: { payload?: boolean; controlId?: boolean | string } = {},
): QueueItem {
  const seq = String(n).padStart(3, "0");
  const controlId = typeof options.controlId === "string" ? options.controlId : `C${n}`;
  const record = {
    id: `m${n}`,
    receivedAt: 0,
    contentType: "application/hl7-v2",
    size: 0,
    chunks: 0,
    ...(options.controlId === false ? {} : { controlId }),
  } as unknown as MessageRecord;
  const item: QueueItem = {
    head: {
      queue: "q",
      entry: { seq, messageId: `m${n}`, logId: `l${n}`, enqueuedAt: 0 },
      versionstamp: "v",
    },
    record,
    log: null,
  };
  if (options.payload !== false) {
    item.payload = encoder.encode(
      options.controlId === false
        ? "PID|1"
        : `MSH|^~\\&|A|B|C|D|20260101||ADT^A01|${controlId}|P|2.5\rPID|1`,
    );
  }
  return item;
}

function rig() {
  const conns: ScriptedConnection[] = [];
  const connector: MllpConnector = {
    connect() {
      const c = new ScriptedConnection();
      conns.push(c);
      return Promise.resolve(c);
    },
  };
  const deliverer = new MllpDeliverer({
    actorId: "mllp-out:127.0.0.1:1",
    target: { host: "127.0.0.1", port: 1 },
    connector,
    clock: new ManualClock(),
    log: memoryLogger(),
    settings: () => ({ ackTimeoutMs: 30_000, onNack: "retry" }),
  });
  /** The job for `items[0]`, the rest queued behind it. */
  const job = (items: QueueItem[]): DeliveryJob => ({
    head: items[0]!.head,
    record: items[0]!.record,
    payload: items[0]!.payload!,
    signal: new AbortController().signal,
    setState: () => {},
    upcoming: (max) => items.slice(1, 1 + max),
  });
  return { conns, deliverer, job };
}

/** Lets the deliverer reach its wait for the ACK. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("run-ahead: the deliverer lists what is queued behind, and takes the ACK of a message sent ahead without sending it again", async () => {
  const { conns, deliverer, job } = rig();
  const q = [entry(1), entry(2), entry(3)];
  const first = deliverer.deliver(job(q));
  await settle();
  const c = conns[0]!;
  // Allowed before the send, and the list follows the send at once.
  assert.deepEqual(c.calls, ["allow", "send 001", "follow 001 [002:C2 003:C3]"]);
  c.ack("C1", "002");
  assert.deepEqual(await first, { ok: true, detail: "AA" });
  assert.equal(deliverer.sentAhead(), "002");

  const second = deliverer.deliver(job(q.slice(1)));
  await settle();
  // Not sent again, and nothing new to list (003 is listed already): only allowed.
  assert.deepEqual(c.calls.slice(3), ["allow"]);
  c.ack("C2");
  assert.deepEqual(await second, { ok: true, detail: "AA" });
  assert.equal(deliverer.sentAhead(), undefined);

  // Nothing followed: the next one is sent by the deliverer, and no empty list is sent again.
  const third = deliverer.deliver(job(q.slice(2)));
  await settle();
  assert.deepEqual(c.calls.slice(4), ["allow", "send 003", "follow 003 []"]);
  c.ack("C3");
  await third;
  const fourth = deliverer.deliver(job([entry(4)]));
  await settle();
  assert.deepEqual(c.calls.slice(7), ["allow", "send 004"], "an empty list is not repeated");
  c.ack("C4");
  await fourth;
  await deliverer.close();
});

Deno.test("run-ahead: the list ends before a message whose payload is not in memory or that has no MSH-10", async () => {
  const { conns, deliverer, job } = rig();
  const a = deliverer.deliver(job([entry(1), entry(2), entry(3, { payload: false }), entry(4)]));
  await settle();
  assert.equal(conns[0]!.calls.at(-1), "follow 001 [002:C2]");
  conns[0]!.ack("C1");
  await a;
  const b = deliverer.deliver(job([entry(5), entry(6, { controlId: false }), entry(7)]));
  await settle();
  assert.equal(conns[0]!.calls.at(-1), "follow 005 []");
  conns[0]!.ack("C5");
  await b;
  await deliverer.close();
});

Deno.test("run-ahead: held (a pause or a handover), the connection is held instead of allowed, and the message it sent ahead is still taken in", async () => {
  const { conns, deliverer, job } = rig();
  const q = [entry(1), entry(2), entry(3)];
  const first = deliverer.deliver(job(q));
  await settle();
  const c = conns[0]!;
  deliverer.hold();
  assert.equal(c.calls.at(-1), "hold");
  c.ack("C1", "002");
  await first;
  const second = deliverer.deliver(job(q.slice(1)));
  await settle();
  assert.equal(c.calls.filter((x) => x === "allow").length, 1, "not allowed again while held");
  assert.ok(!c.calls.includes("send 002"));
  c.ack("C2");
  assert.deepEqual(await second, { ok: true, detail: "AA" });
  deliverer.release();
  const third = deliverer.deliver(job(q.slice(2)));
  await settle();
  assert.deepEqual(c.calls.slice(-3), ["allow", "send 003", "follow 003 []"]);
  c.ack("C3");
  await third;
  await deliverer.close();
});

Deno.test("run-ahead: asked for another message than the one sent ahead (the queue changed under it), the deliverer drops that connection and sends on a fresh one", async () => {
  const { conns, deliverer, job } = rig();
  const first = deliverer.deliver(job([entry(1), entry(2), entry(3)]));
  await settle();
  conns[0]!.ack("C1", "002");
  await first;
  // Entry 2 was skipped meanwhile: 3 is asked for.
  const third = deliverer.deliver(job([entry(3)]));
  await settle();
  assert.equal(conns[0]!.calls.at(-1), "close");
  assert.equal(conns.length, 2);
  assert.deepEqual(conns[1]!.calls, ["allow", "send 003"]);
  assert.equal(deliverer.sentAhead(), undefined);
  conns[1]!.ack("C3");
  assert.deepEqual(await third, { ok: true, detail: "AA" });
  await deliverer.close();
});

Deno.test("run-ahead: as the queue grows, only the messages beyond the end of the connection's list are given to it", async () => {
  const { conns, deliverer, job } = rig();
  const first = deliverer.deliver(job([entry(1), entry(2)]));
  await settle();
  const c = conns[0]!;
  assert.deepEqual(c.calls, ["allow", "send 001", "follow 001 [002:C2]"]);
  c.ack("C1", "002");
  await first;
  // 3 and 4 came meanwhile: the list after 002 (its end) is theirs.
  const second = deliverer.deliver(job([entry(2), entry(3), entry(4)]));
  await settle();
  assert.deepEqual(c.calls.slice(3), ["allow", "follow 002 [003:C3 004:C4]"]);
  c.ack("C2", "003");
  await second;
  // 5 came: only 5 crosses, after 004, the list's end.
  const third = deliverer.deliver(job([entry(3), entry(4), entry(5)]));
  await settle();
  assert.deepEqual(c.calls.slice(5), ["allow", "follow 004 [005:C5]"]);
  c.ack("C3", "004");
  await third;
  // Nothing new: nothing crosses.
  const fourth = deliverer.deliver(job([entry(4), entry(5)]));
  await settle();
  assert.deepEqual(c.calls.slice(7), ["allow"]);
  c.ack("C4");
  await fourth;
  await deliverer.close();
});

Deno.test("run-ahead: a message heading the connection's list that it did not send on its own (its allowance had ended) goes out alone, and the list does not cross again", async () => {
  const { conns, deliverer, job } = rig();
  const q = [entry(1), entry(2), entry(3), entry(4), entry(5)];
  const first = deliverer.deliver(job(q));
  await settle();
  const c = conns[0]!;
  assert.deepEqual(c.calls, ["allow", "send 001", "follow 001 [002:C2 003:C3 004:C4 005:C5]"]);
  // Under load the actor's next turn came after the allowance: the connection did not go on.
  c.ack("C1");
  await first;
  const second = deliverer.deliver(job(q.slice(1)));
  await settle();
  // 002 heads the list the connection holds: sent alone, the list after it kept as it is.
  assert.deepEqual(c.calls.slice(3), ["allow", "send 002"]);
  c.ack("C2", "003");
  await second;
  // The connection went on with 003 from that same list, and nothing new is listed.
  const third = deliverer.deliver(job(q.slice(2)));
  await settle();
  assert.deepEqual(c.calls.slice(5), ["allow"]);
  assert.equal(deliverer.sentAhead(), undefined);
  c.ack("C3");
  assert.deepEqual(await third, { ok: true, detail: "AA" });
  // A retry of the same message is not the list's head: listed anew with it.
  const fourth = deliverer.deliver(job(q.slice(3)));
  await settle();
  assert.deepEqual(c.calls.slice(6), ["allow", "send 004"]);
  c.ack("C9"); // not this message's ACK: the deliverer waits on
  c.ack("C4");
  await fourth;
  const retry = deliverer.deliver(job(q.slice(3)));
  await settle();
  assert.deepEqual(c.calls.slice(8), ["allow", "send 004", "follow 004 [005:C5]"]);
  c.ack("C4");
  await retry;
  await deliverer.close();
});

Deno.test("run-ahead: the list ends before a message under an MSH-10 the connection carried for another message, which the deliverer then sends on a fresh connection", async () => {
  const { conns, deliverer, job } = rig();
  const q = [entry(1), entry(2), entry(3, { controlId: "C1" }), entry(4)];
  const first = deliverer.deliver(job(q));
  await settle();
  const c = conns[0]!;
  assert.deepEqual(c.calls, ["allow", "send 001", "follow 001 [002:C2]"]);
  c.ack("C1", "002");
  await first;
  // Refilled once 002 went on its own: 003 is still left out.
  const second = deliverer.deliver(job(q.slice(1)));
  await settle();
  assert.deepEqual(c.calls.slice(3), ["allow", "follow 002 []"]);
  c.ack("C2");
  await second;
  // 003 goes on a connection of its own, with what follows it listed there.
  const third = deliverer.deliver(job(q.slice(2)));
  await settle();
  assert.equal(c.calls.at(-1), "close");
  assert.equal(conns.length, 2);
  assert.deepEqual(conns[1]!.calls, ["allow", "send 003", "follow 003 [004:C4]"]);
  conns[1]!.ack("C1", "004");
  assert.deepEqual(await third, { ok: true, detail: "AA" });
  assert.equal(deliverer.sentAhead(), "004");
  await deliverer.close();
});
