/**
 * The delivery actor's state machine, driven through its port (`Deliverer`) with a scripted fake
 * and a ManualClock over a real KV file: every transition (FIFO, one in flight, the retry
 * schedule, pause, resume, retry now, skip, a crash between send and commit) is checked without a
 * socket and without waiting on wall-clock time. "Nothing happened yet" is asserted only while
 * the actor is provably parked on the clock. The real-socket interop tests stay in mllp_out/.
 */

import assert from "node:assert/strict";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import { HeldBudget } from "../../../actors/delivery/ready_queue.ts";
import type { QueueItem } from "../../../actors/store/requests.ts";
import type {
  Deliverer,
  DeliveryJob,
  DeliveryOutcome,
} from "../../../actors/delivery/deliverer.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/store.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { enqueueAdt } from "../../helpers/queue.ts";

const decoder = new TextDecoder();
const POLL_MS = 1000;

/** One call of the fake deliverer, answered by the test. */
interface Call {
  controlId: string;
  job: DeliveryJob;
  answer(outcome: DeliveryOutcome): void;
}

/** A deliverer whose every attempt waits for the test to answer it. */
class ScriptedDeliverer implements Deliverer {
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;

  deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const controlId = /\rMSH\|[^\r]*|^MSH\|[^\r]*/.exec(decoder.decode(job.payload))![0]
      .split("|")[9]!;
    return new Promise((resolve) => {
      this.calls.push({
        controlId,
        job,
        answer: (outcome) => {
          this.inFlight--;
          resolve(outcome);
        },
      });
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** The seq of a message "its socket sent ahead", as the test sets it. */
  ahead: string | undefined;
  /** hold() and release() calls, in order. */
  readonly holds: string[] = [];
  sentAhead(): string | undefined {
    return this.ahead;
  }
  hold(): void {
    this.holds.push("hold");
  }
  release(): void {
    this.holds.push("release");
  }

  /** Waits for attempt number `n` (1-based) to reach the deliverer. */
  async call(n: number): Promise<Call> {
    await waitFor(`attempt ${n}`, () => this.calls.length >= n);
    return this.calls[n - 1]!;
  }
}

interface Rig {
  store: Store;
  /** The KV file, for a second writer on it. */
  kvPath: string;
  clock: ManualClock;
  deliverer: ScriptedDeliverer;
  actor: DeliveryActor;
  ids: Map<string, { messageId: string; logId: string }>;
  enqueue(...controlIds: string[]): Promise<void>;
  /** Waits until the actor is parked on the clock with a wake-up at `at`. */
  parkedUntil(at: number): Promise<void>;
  /** Fails the first attempt (retried at once) and the second (then a 10 s backoff). */
  failTwice(reason: string): Promise<void>;
  /** Starts (or restarts, after {@link Rig.abandon}) an actor on the same KV. */
  start(): void;
  /** Stops the running activation where it is, without waiting for it (a stop, as KV sees it). */
  abandon(): void;
  /**
   * The process dies: the activation stops where it is, what the process kept in memory is gone,
   * and a new process opens the same KV ({@link Rig.store} is its store from then on).
   */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

const QUEUE = "mllp-out:fake:1";

async function rig(options: { deferStart?: boolean; held?: HeldBudget } = {}): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "delivery-actor-" });
  let store = await Store.open({ path: `${dir}/engine.kv`, node: "test" });
  const clock = new ManualClock();
  const ids = new Map<string, { messageId: string; logId: string }>();
  let abort = new AbortController();
  let running: Promise<void> | undefined;
  const make = () =>
    new DeliveryActor({
      id: QUEUE,
      kind: "mllp-out",
      store,
      deliverer: r.deliverer,
      clock,
      log: memoryLogger(),
      pollMs: POLL_MS,
      idleDeactivateMs: 24 * 3600_000,
      ...(options.held ? { held: options.held } : {}),
    });
  const r: Rig = {
    store,
    kvPath: `${dir}/engine.kv`,
    clock,
    deliverer: new ScriptedDeliverer(),
    actor: undefined as unknown as DeliveryActor, // set by start()
    ids,
    async enqueue(...controlIds) {
      for (const controlId of controlIds) {
        ids.set(controlId, await enqueueAdt(store, QUEUE, controlId));
        r.actor?.notify();
      }
    },
    async parkedUntil(at) {
      await waitFor(`parked until ${at}`, () => clock.pending === 1 && clock.nextWake === at);
    },
    async failTwice(reason) {
      (await r.deliverer.call(1)).answer({ ok: false, reason });
      await r.parkedUntil(clock.now());
      clock.advance(0);
      (await r.deliverer.call(2)).answer({ ok: false, reason });
    },
    start() {
      abort = new AbortController();
      r.actor = make();
      running = r.actor.run(abort.signal);
    },
    abandon() {
      // The old activation stops where it is: what it has not committed stays undone in KV.
      abort.abort();
      running?.catch(() => {});
      running = undefined;
      r.deliverer = new ScriptedDeliverer();
    },
    async crash() {
      r.abandon();
      const dead = store;
      store = await Store.open({ path: r.kvPath, node: "test" });
      r.store = store;
      dead.close();
    },
    async stop() {
      abort.abort();
      for (const c of r.deliverer.calls) c.answer({ ok: false, reason: "stopping" });
      try {
        await running;
      } finally {
        store.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
  if (!options.deferStart) r.start();
  return r;
}

async function logOf(r: Rig, controlId: string) {
  const log = await r.store.getLog(r.ids.get(controlId)!.logId);
  assert.ok(log, `no log for ${controlId}`);
  return log;
}

Deno.test("delivery actor sends FIFO with exactly one message in flight", async () => {
  const r = await rig();
  try {
    await r.enqueue("F1", "F2", "F3");
    for (let n = 1; n <= 3; n++) {
      const call = await r.deliverer.call(n);
      // The actor is waiting on this attempt: no other message can be on the wire.
      assert.equal(r.deliverer.inFlight, 1);
      assert.equal(r.deliverer.calls.length, n);
      call.answer({ ok: true, detail: "AA" });
    }
    await waitFor("all completed", async () => (await r.store.depth(QUEUE)) === 0);
    assert.deepEqual(r.deliverer.calls.map((c) => c.controlId), ["F1", "F2", "F3"]);
    assert.equal(r.deliverer.maxInFlight, 1);
    for (const id of ["F1", "F2", "F3"]) {
      const log = await logOf(r, id);
      assert.equal(log.status, "SUCCEEDED");
      assert.equal(log.attemptCount, 1);
    }
  } finally {
    await r.stop();
  }
});

Deno.test("delivery actor retries the head on the schedule 0, 10, 10, 20, 30, 50, 80, 120, 120 s and never early", async () => {
  const r = await rig();
  try {
    await r.enqueue("S1", "S2");
    const schedule = [0, 10, 10, 20, 30, 50, 80, 120, 120].map((s) => s * 1000);
    for (let failures = 1; failures <= schedule.length; failures++) {
      const call = await r.deliverer.call(failures);
      assert.equal(call.controlId, "S1", "only the head is retried");
      call.answer({ ok: false, reason: `AE: try ${failures}` });
      const waitMs = schedule[failures - 1]!;
      const failedAt = r.clock.now();
      await r.parkedUntil(failedAt + waitMs);
      const status = await r.actor.status();
      assert.equal(status.state, "backoff");
      assert.equal(status.nextRetryAt, failedAt + waitMs);
      assert.equal(status.inFlight?.attempts, failures);
      assert.equal(status.lastError, `AE: try ${failures}`);
      if (waitMs > 0) {
        r.clock.advance(waitMs - 1);
        // Still parked on the same wake-up: nothing can have been sent.
        assert.equal(r.clock.nextWake, failedAt + waitMs);
        assert.equal(r.deliverer.calls.length, failures);
        r.clock.advance(1);
      } else r.clock.advance(0);
    }
    const last = await r.deliverer.call(schedule.length + 1);
    last.answer({ ok: true, detail: "AA" });
    const next = await r.deliverer.call(schedule.length + 2);
    assert.equal(next.controlId, "S2");
    next.answer({ ok: true, detail: "AA" });
    await waitFor("S2 done", async () => (await logOf(r, "S2")).status === "SUCCEEDED");
    const log = await logOf(r, "S1");
    assert.equal(log.status, "SUCCEEDED");
    assert.equal(log.attemptCount, schedule.length + 1);
    assert.equal((await logOf(r, "S2")).attemptCount, 1);
  } finally {
    await r.stop();
  }
});

Deno.test("retry now cuts the backoff short; the next failure waits for the next slot", async () => {
  const r = await rig();
  try {
    assert.equal((await r.actor.command("retry", "ops", "nothing waits")).ok, false);
    await r.enqueue("R1");
    await r.failTwice("AE");
    const t = r.clock.now();
    await r.parkedUntil(t + 10_000);
    const result = await r.actor.command("retry", "ops", "receiver is back");
    assert.equal(result.ok, true, result.message);
    // Sent again without moving the clock.
    const third = await r.deliverer.call(3);
    assert.equal(r.clock.now(), t);
    third.answer({ ok: false, reason: "AE" });
    // The third failure waits the third slot (10 s), not the first (0).
    await r.parkedUntil(t + 10_000);
    assert.equal(r.deliverer.calls.length, 3);
    r.clock.advance(10_000);
    (await r.deliverer.call(4)).answer({ ok: true, detail: "AA" });
    await waitFor("delivered", async () => (await logOf(r, "R1")).status === "SUCCEEDED");
  } finally {
    await r.stop();
  }
});

Deno.test("a status taken as a backoff ends shows the backoff with its retry time or the retry under way, never the backoff without its time; the retry shows as sending, not as the backoff before it", async () => {
  const r = await rig();
  try {
    await r.enqueue("B1");
    (await r.deliverer.call(1)).answer({ ok: false, reason: "AE: first" });
    const failedAt = r.clock.now();
    await r.parkedUntil(failedAt);
    // Its reads of KV under way, the backoff (0 s, the first) ends and the retry begins.
    const taken = r.actor.status();
    r.clock.advance(0);
    const either = await taken;
    if (either.state === "backoff") assert.equal(either.nextRetryAt, failedAt);
    else {
      assert.equal(either.state, "sending");
      assert.equal(either.nextRetryAt, undefined);
    }
    // The scripted deliverer says nothing of its state while it holds the attempt.
    await r.deliverer.call(2);
    const retrying = await r.actor.status();
    assert.equal(retrying.state, "sending");
    assert.equal(retrying.nextRetryAt, undefined);
    assert.equal(retrying.inFlight?.messageId, r.ids.get("B1")!.messageId);
    assert.equal(retrying.inFlight?.attempts, 1);
  } finally {
    await r.stop();
  }
});

Deno.test("pause holds the queue (and a backoff) for any time; resume sends at once", async () => {
  const r = await rig();
  try {
    await r.enqueue("P1");
    await r.failTwice("AE");
    await r.parkedUntil(r.clock.now() + 10_000);
    const paused = await r.actor.command("pause", "ops", "maintenance");
    assert.equal(paused.ok, true);
    await r.enqueue("P2");
    // Hours go by in poll-sized steps; each wake-up finds the actor paused and parks it again.
    for (let i = 0; i < 5; i++) {
      const next = r.clock.now() + 3600_000;
      r.clock.advance(3600_000);
      await waitFor("paused again", async () => (await r.actor.status()).state === "paused");
      await r.parkedUntil(r.clock.nextWake!);
      assert.ok(r.clock.nextWake! > next - 1, "parked for a future wake-up");
    }
    assert.equal(r.deliverer.calls.length, 2, "sent while paused");
    const status = await r.actor.status();
    assert.equal(status.paused?.by, "ops");
    assert.equal(status.paused?.reason, "maintenance");
    assert.equal(status.queueDepth, 2);
    assert.equal((await r.store.getControl(QUEUE)).paused, true, "pause not kept in KV");

    assert.equal((await r.actor.command("resume", "ops", "done")).ok, true);
    const third = await r.deliverer.call(3);
    assert.equal(third.controlId, "P1");
    third.answer({ ok: true, detail: "AA" });
    (await r.deliverer.call(4)).answer({ ok: true, detail: "AA" });
    assert.deepEqual(r.deliverer.calls.map((c) => c.controlId), ["P1", "P1", "P1", "P2"]);
    await waitFor("drained", async () => (await r.store.depth(QUEUE)) === 0);
  } finally {
    await r.stop();
  }
});

Deno.test("a pause survives a restart: the next activation reads it from KV and sends nothing", async () => {
  const r = await rig();
  try {
    assert.equal((await r.actor.command("pause", "ops", "hold")).ok, true);
    await r.enqueue("K1");
    await waitFor("paused", async () => (await r.actor.status()).state === "paused");
    r.abandon();
    r.start();
    await waitFor("paused again", async () => (await r.actor.status()).state === "paused");
    await r.parkedUntil(r.clock.now() + POLL_MS);
    r.clock.advance(POLL_MS);
    await r.parkedUntil(r.clock.now() + POLL_MS);
    assert.equal(r.deliverer.calls.length, 0);
    assert.equal((await r.actor.command("resume", "ops", "go")).ok, true);
    (await r.deliverer.call(1)).answer({ ok: true, detail: "AA" });
    await waitFor("delivered", async () => (await logOf(r, "K1")).status === "SUCCEEDED");
  } finally {
    await r.stop();
  }
});

Deno.test("skip during a backoff moves the head to the dead-letter list with who and why; the next goes", async () => {
  const r = await rig();
  try {
    await r.enqueue("K1", "K2");
    await r.failTwice("AE: bad data");
    await r.parkedUntil(r.clock.now() + 10_000);
    assert.equal((await r.actor.status()).lastError, "AE: bad data");
    const skipped = await r.actor.command("skip", "ops", "bad data, fixed at source");
    assert.equal(skipped.ok, true, skipped.message);
    // The failing head is gone: its error no longer describes the queue.
    assert.equal((await r.actor.status()).lastError, undefined);
    const next = await r.deliverer.call(3);
    assert.equal(next.controlId, "K2");
    next.answer({ ok: true, detail: "AA" });
    await waitFor("K2 done", async () => (await logOf(r, "K2")).status === "SUCCEEDED");
    const dead = await r.store.deadLetters(QUEUE);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.messageId, r.ids.get("K1")!.messageId);
    assert.equal(dead[0]!.by, "ops");
    assert.equal(dead[0]!.reason, "bad data, fixed at source");
    assert.equal(typeof dead[0]!.at, "number", "when it was moved aside");
    assert.equal((await logOf(r, "K1")).status, "FAILED");
    // A retry of K1 after the skip would be a second message in flight: there was none.
    assert.equal(r.deliverer.calls.filter((c) => c.controlId === "K1").length, 2);
  } finally {
    await r.stop();
  }
});

Deno.test("skip during an attempt aborts it and records that the receiver may have it", async () => {
  const r = await rig();
  try {
    await r.enqueue("A1", "A2");
    const call = await r.deliverer.call(1);
    const skipped = await r.actor.command("skip", "ops", "stuck");
    assert.equal(skipped.ok, true, skipped.message);
    assert.equal(call.job.signal.aborted, true, "the attempt's signal aborts");
    call.answer({ ok: false, reason: "aborted" });
    const next = await r.deliverer.call(2);
    assert.equal(next.controlId, "A2");
    next.answer({ ok: true, detail: "AA" });
    await waitFor("A2 done", async () => (await logOf(r, "A2")).status === "SUCCEEDED");
    const log = await logOf(r, "A1");
    assert.equal(log.status, "FAILED");
    assert.ok(
      log.attempts.some((a) => /receiver may have received it/.test(a.reason ?? "")),
      JSON.stringify(log.attempts),
    );
  } finally {
    await r.stop();
  }
});

Deno.test("an outcome marked deadLetter moves the head aside at once and the queue goes on", async () => {
  const r = await rig();
  try {
    await r.enqueue("D1", "D2");
    (await r.deliverer.call(1)).answer({ ok: false, reason: "AR: refused", deadLetter: true });
    const next = await r.deliverer.call(2);
    assert.equal(next.controlId, "D2");
    next.answer({ ok: true, detail: "AA" });
    await waitFor("D2 done", async () => (await logOf(r, "D2")).status === "SUCCEEDED");
    const dead = await r.store.deadLetters(QUEUE);
    assert.deepEqual(dead.map((d) => d.messageId), [r.ids.get("D1")!.messageId]);
    assert.equal(dead[0]!.by, "policy:dead-letter");
    assert.equal(r.clock.pending <= 1, true);
  } finally {
    await r.stop();
  }
});

Deno.test("a crash between the peer's ACK and the commit resends that message after restart, in order", async () => {
  const r = await rig({ deferStart: true });
  try {
    // Completions never reach KV: as if the process died right after the peer answered.
    r.store.complete = () => new Promise(() => {});
    await r.enqueue("C1", "C2");
    r.start();
    (await r.deliverer.call(1)).answer({ ok: true, detail: "AA" });
    // The next message goes out while C1's completion is still pending (pipelined commit).
    const second = await r.deliverer.call(2);
    assert.equal(second.controlId, "C2");
    await r.crash();
    r.start();
    // Both are still queued: the new process sends C1 again (a duplicate the peer may see),
    // then C2, in order, one at a time.
    const again = await r.deliverer.call(1);
    assert.equal(again.controlId, "C1");
    again.answer({ ok: true, detail: "AA" });
    const then = await r.deliverer.call(2);
    assert.equal(then.controlId, "C2");
    then.answer({ ok: true, detail: "AA" });
    await waitFor("drained", async () => (await r.store.depth(QUEUE)) === 0);
    assert.equal((await logOf(r, "C1")).status, "SUCCEEDED");
    assert.equal((await logOf(r, "C2")).status, "SUCCEEDED");
  } finally {
    await r.stop();
  }
});

Deno.test("an activation stopped between the peer's ACK and the commit: the next one in the process completes that message and does not send it again", async () => {
  const r = await rig({ deferStart: true });
  try {
    const complete = r.store.complete.bind(r.store);
    r.store.complete = () => new Promise(() => {});
    await r.enqueue("S1", "S2");
    r.start();
    (await r.deliverer.call(1)).answer({ ok: true, detail: "AA" });
    const second = await r.deliverer.call(2);
    assert.equal(second.controlId, "S2");
    // Stopped (a handover, a reload) with S1's completion still pending, S2 unanswered.
    r.abandon();
    r.store.complete = complete;
    r.start();
    // S1 was delivered: completed, not sent again. S2 was not: sent again.
    const next = await r.deliverer.call(1);
    assert.equal(next.controlId, "S2");
    next.answer({ ok: true, detail: "AA" });
    await waitFor("drained", async () => (await r.store.depth(QUEUE)) === 0);
    assert.equal((await logOf(r, "S1")).status, "SUCCEEDED");
    assert.equal((await logOf(r, "S1")).attemptCount, 1);
    assert.equal((await logOf(r, "S2")).status, "SUCCEEDED");
    assert.equal(r.store.owed.size, 0);
  } finally {
    await r.stop();
  }
});

Deno.test("stopping during an attempt leaves the head queued for the next activation", async () => {
  const r = await rig();
  try {
    await r.enqueue("T1");
    const call = await r.deliverer.call(1);
    r.abandon();
    call.answer({ ok: true, detail: "AA" });
    r.start();
    const again = await r.deliverer.call(1);
    assert.equal(again.controlId, "T1");
    again.answer({ ok: true, detail: "AA" });
    await waitFor("delivered", async () => (await logOf(r, "T1")).status === "SUCCEEDED");
  } finally {
    await r.stop();
  }
});

Deno.test("a queue longer than a KV read is sent in order, the next batch read while the head is on the wire", async () => {
  const r = await rig({ deferStart: true });
  try {
    // Every third message carries a note that keeps it over the in-record limit even deflated,
    // so its payload lives in a row of its own: those come from KV with the batch too.
    const noise = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(700))));
    const n = 300;
    const order: string[] = [];
    for (let i = 0; i < n; i++) {
      const controlId = `R${String(i).padStart(3, "0")}`;
      order.push(controlId);
      const text = adt(controlId) + (i % 3 === 0 ? `\rNTE|1||${noise()}` : "");
      r.ids.set(controlId, await enqueueAdt(r.store, QUEUE, controlId, { payload: text }));
    }
    const peeks: (string | undefined)[] = [];
    const peek = r.store.peek.bind(r.store);
    r.store.peek = (queue, limit, after) => {
      peeks.push(after);
      return peek(queue, limit, after);
    };
    let payloadReads = 0;
    const getPayload = r.store.getPayload.bind(r.store);
    r.store.getPayload = (record) => {
      payloadReads++;
      return getPayload(record);
    };
    r.start();
    const first = await r.deliverer.call(1);
    // The first read listed from the head; the next batch is asked for after its cursor while
    // the first message is still unanswered.
    await waitFor(
      "a read ahead during the first attempt",
      () => peeks.some((p) => p !== undefined),
    );
    assert.equal(r.deliverer.calls.length, 1);
    first.answer({ ok: true, detail: "AA" });
    for (let i = 2; i <= n; i++) (await r.deliverer.call(i)).answer({ ok: true, detail: "AA" });
    await waitFor("all completed", async () => (await r.store.depth(QUEUE)) === 0);
    assert.deepEqual(r.deliverer.calls.map((c) => c.controlId), order);
    assert.equal(r.deliverer.maxInFlight, 1);
    // Each payload came with its batch, none read on its own when sent.
    assert.equal(payloadReads, 0);
    for (const [i, c] of r.deliverer.calls.entries()) {
      assert.ok(decoder.decode(c.job.payload).startsWith(adt(order[i]!)), `payload of ${order[i]}`);
    }
  } finally {
    await r.stop();
  }
});

Deno.test("entries held past an actor's own bound come from the shared budget and go back when it stops; a stopped actor holds none", async () => {
  const held = new HeldBudget({ maxItems: 500 });
  const r = await rig({ held });
  try {
    await r.enqueue("H0000");
    const first = await r.deliverer.call(1);
    const [head] = await r.store.peek(QUEUE);
    const record = (await r.store.getMessage(head!.entry.messageId))!;
    // Entries after it, as a writer of this process would hand them over once committed.
    const items: QueueItem[] = Array.from({ length: 1100 }, (_, i) => ({
      head: { ...head!, entry: { ...head!.entry, seq: `${head!.entry.seq}~${i + 10000}` } },
      record,
      log: null,
      payload: new Uint8Array(1),
    }));
    r.actor.take(items);
    // With the head still held while on the wire: 1,024 of the actor's own, 77 from the budget.
    assert.equal(held.items, 1 + 1100 - 1024);
    first.answer({ ok: false, reason: "stopping" });
    r.abandon();
    await waitFor("the stopped actor's share back", () => held.items === 0);
    r.actor.take(items);
    assert.equal(held.items, 0, "a stopped actor holds nothing");
  } finally {
    await r.stop();
  }
});

Deno.test("an entry committed out of seq order while the head is on the wire goes next; the head is sent once", async () => {
  const r = await rig({ deferStart: true });
  // A writer whose ids sort before this one's: its commit lands after a later entry's.
  const other = await Store.open({ path: r.kvPath, node: "other", now: () => Date.now() - 60_000 });
  try {
    r.start();
    await r.enqueue("LATE2");
    const first = await r.deliverer.call(1);
    assert.equal(first.controlId, "LATE2");
    const early = await enqueueAdt(other, QUEUE, "EARLY1");
    const [entry] = (await r.store.peek(QUEUE, 10)).filter((h) =>
      h.entry.messageId === early.messageId
    );
    assert.ok(entry && entry.entry.seq < first.job.head.entry.seq, "its seq sorts first");
    const record = (await r.store.getMessage(early.messageId))!;
    // Handed over while LATE2 is on the wire, as a writer of this process does once committed.
    r.actor.take([{ head: entry, record, log: null, payload: await r.store.getPayload(record) }]);
    first.answer({ ok: true, detail: "AA" });
    const second = await r.deliverer.call(2);
    assert.equal(second.controlId, "EARLY1", "the delivered head is not sent again");
    second.answer({ ok: true, detail: "AA" });
    await waitFor("all completed", async () => (await r.store.depth(QUEUE)) === 0);
    assert.deepEqual(r.deliverer.calls.map((c) => c.controlId), ["LATE2", "EARLY1"]);
    assert.equal((await r.store.getLog(early.logId))?.status, "SUCCEEDED");
    assert.equal((await logOf(r, "LATE2")).attemptCount, 1);
  } finally {
    other.close();
    await r.stop();
  }
});

Deno.test("a pause holds the deliverer; the message its socket sent ahead still finishes its attempt, then nothing goes until resume releases it", async () => {
  // Queued before the start: all three are in memory, as what a socket is given to send is.
  const r = await rig({ deferStart: true });
  try {
    await r.enqueue("B1", "B2", "B3");
    r.start();
    const first = await r.deliverer.call(1);
    assert.equal((await r.actor.command("pause", "ops", "look")).ok, true);
    assert.deepEqual(r.deliverer.holds, ["hold"]);
    // B2 went out on B1's ACK before the pause reached the socket.
    r.deliverer.ahead = (await r.store.peek(QUEUE, 2))[1]!.entry.seq;
    first.answer({ ok: true, detail: "AA" });
    const second = await r.deliverer.call(2);
    assert.equal(second.controlId, "B2");
    r.deliverer.ahead = undefined;
    second.answer({ ok: true, detail: "AA" });
    await waitFor("B2 done", async () => (await logOf(r, "B2")).status === "SUCCEEDED");
    await waitFor("paused", async () => (await r.actor.status()).state === "paused");
    await r.parkedUntil(r.clock.now() + POLL_MS);
    r.clock.advance(POLL_MS);
    await r.parkedUntil(r.clock.now() + POLL_MS);
    assert.equal(r.deliverer.calls.length, 2, "nothing more while paused");
    assert.equal((await r.actor.command("resume", "ops", "go")).ok, true);
    assert.deepEqual(r.deliverer.holds, ["hold", "release"]);
    const third = await r.deliverer.call(3);
    assert.equal(third.controlId, "B3");
    third.answer({ ok: true, detail: "AA" });
    await waitFor("drained", async () => (await r.store.depth(QUEUE)) === 0);
  } finally {
    await r.stop();
  }
});

Deno.test("a skip of a head its socket sent ahead, its ACK not taken in yet, records that the receiver may have it", async () => {
  const r = await rig();
  try {
    assert.equal((await r.actor.command("pause", "ops", "hold")).ok, true);
    await r.enqueue("S1", "S2");
    await waitFor("paused", async () => (await r.actor.status()).state === "paused");
    const [head] = await r.store.peek(QUEUE);
    r.deliverer.ahead = head!.entry.seq;
    const skipped = await r.actor.command("skip", "ops", "wrong patient");
    assert.equal(skipped.ok, true, skipped.message);
    const log = await logOf(r, "S1");
    assert.equal(log.status, "FAILED");
    assert.ok(
      log.attempts.some((a) =>
        /on the wire; the receiver may have received it/.test(a.reason ?? "")
      ),
      JSON.stringify(log.attempts),
    );
    assert.equal((await r.store.deadLetters(QUEUE))[0]?.messageId, r.ids.get("S1")!.messageId);
  } finally {
    await r.stop();
  }
});

Deno.test("a notify while the next message is already in memory does not hold its send back for a KV read", async () => {
  const r = await rig({ deferStart: true });
  try {
    // Both are read from the head at activation, with their payloads.
    await r.enqueue("N1", "N2");
    r.start();
    const first = await r.deliverer.call(1);
    // From here, a read after the cursor (what a notify announces) waits until the test opens it.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => open = resolve);
    let gated = 0;
    const peek = r.store.peek.bind(r.store);
    r.store.peek = async (queue, limit, after) => {
      if (queue === QUEUE && after !== undefined) {
        gated++;
        await gate;
      }
      return peek(queue, limit, after);
    };
    // A writer that does not hand over (another actor routing here) commits N3 and notifies.
    await r.enqueue("N3");
    first.answer({ ok: true, detail: "AA" });
    // N2 was read with N1: it goes while the read for N3 is still waiting on KV.
    const second = await r.deliverer.call(2);
    assert.equal(second.controlId, "N2");
    assert.ok(gated >= 1, "the read N3's notify asked for is under way");
    open();
    second.answer({ ok: true, detail: "AA" });
    (await r.deliverer.call(3)).answer({ ok: true, detail: "AA" });
    await waitFor("all completed", async () => (await r.store.depth(QUEUE)) === 0);
    assert.deepEqual(r.deliverer.calls.map((c) => c.controlId), ["N1", "N2", "N3"]);
    assert.equal(r.deliverer.maxInFlight, 1);
  } finally {
    await r.stop();
  }
});
