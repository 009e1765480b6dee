/**
 * A destination's delivery actor: takes its KV queue first-in-first-out with exactly one message
 * in flight. Success completes the head; failure keeps it at the head and retries on the schedule
 * of DESIGN.md while the queue waits; an operator may pause, resume, retry now or skip.
 *
 * While KV cannot commit (a full disk) deliveries pause: nothing new goes out, and a message
 * already delivered waits for its completion to commit (tried again with a backoff) instead of
 * being sent again by a restart. An activation that ends first (stopped, handed over, restarted)
 * leaves its completions owed in the store ({@link Store.owed}); the next activation in this
 * process completes them and does not send them again.
 * @module
 */

import type {
  Actor,
  ActorCommand,
  ActorState,
  ActorStatus,
  CommandResult,
  HeldCounts,
} from "../runtime/actor.ts";
import { Wakeup } from "../runtime/actor.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import { PendingWrites } from "../runtime/pending_writes.ts";
import { queueStatus, unreadableSkipped } from "../runtime/queue_status.ts";
import { retryDelayMs } from "../runtime/retry.ts";
import { ToldDepth } from "../runtime/told_depth.ts";
import { waitWritable } from "../runtime/storage_wait.ts";
import { StoreUnavailableError } from "../store/health.ts";
import type { QueueHead, Store } from "../store/store.ts";
import type { QueueItem } from "../store/requests.ts";
import type { ActorControl, Attempt, LogRecord } from "../store/types.ts";
import type { Deliverer } from "./deliverer.ts";
import { MAX_HELD_PAYLOAD, QueueReader } from "./queue_reader.ts";
import { type HeldBudget, ReadyQueue } from "./ready_queue.ts";

/** What a delivery actor is made of. */
export interface DeliveryActorOptions {
  id: string;
  kind: string;
  store: Store;
  deliverer: Deliverer;
  clock: Clock;
  log: Logger;
  /** How often an idle actor looks at its queue for writes by other processes, default 1 s. */
  pollMs?: number;
  /** Deactivate after this long with an empty queue and no open connection, default 5 min. */
  idleDeactivateMs?: number;
  /**
   * Room to hold queue entries beyond the actor's own 1,024 (and 8 MiB), shared by the process's
   * delivery actors (none when absent).
   */
  held?: HeldBudget;
}

/** The reason an attempt is aborted with when the actor stops (a skip uses the default). */
const STOPPING = "stopping";

/** Poll periods a look from the head may wait for a free read slot before it waits in line. */
const SCAN_DEFER = 10;
/**
 * Completions committing in the background while the next messages go out. A crash before they
 * commit resends at most this many messages that their receiver already has (each counted as an
 * attempt of its log); in exchange, under load many completions share one fsync.
 */
const MAX_COMPLETING = 64;

interface InFlight {
  head: QueueHead;
  skip: AbortController;
}

/** See the module doc. */
export class DeliveryActor implements Actor {
  readonly id: string;
  readonly kind: string;
  readonly #options: DeliveryActorOptions;
  readonly #newWork = new Wakeup();
  /**
   * Ends the backoff under way early (retry now, resume, skip). A fresh controller per backoff: a
   * Wakeup would also fire at the next backoff, cutting it short too.
   */
  #cutBackoff: AbortController | undefined;
  #state: ActorState = "idle";
  #control: ActorControl | undefined;
  #inFlight: InFlight | undefined;
  /**
   * The message status shows in flight: set with {@link #inFlight}, kept past it (that one ends as
   * soon as the deliverer answers, for skip's sake) until the attempt's outcome is recorded. While
   * a failure commits (slow behind the queue reads of a restart) the state still read
   * `awaiting-ack` and the status said nothing was in flight.
   */
  #current: QueueHead | undefined;
  /** Since when this activation has been delivering the head `seq` (its first attempt here). */
  #since: { seq: string; at: number } | undefined;
  #failures = 0;
  /** The queue in memory: what the KV queue holds, as far as this actor knows it. */
  readonly #ready: ReadyQueue;
  /** Reads the KV queue into {@link #ready}. */
  readonly #reader: QueueReader;
  /** A writer that does not hand entries over said the KV queue changed: look after the cursor. */
  #look = false;
  /** The supervisor's last depth of the queue was more than memory knows of: look from the head. */
  #depthLook = false;
  /** When the supervisor last told the queue's depth. */
  readonly #told = new ToldDepth();
  /**
   * Completing a delivered message (log SUCCEEDED, entry removed) commits while the next message
   * is on the wire: the peer already has it, so order and one-in-flight hold, and under load the
   * group committer puts several completions on one fsync. A crash before the commit resends that
   * message after the restart (a counted duplicate), as with any in-flight message.
   */
  readonly #completions: PendingWrites;
  /** Seqs delivered whose completion has not committed yet (KV still lists them). */
  readonly #completing = new Set<string>();
  #nextRetryAt: number | undefined;
  #lastActivityAt: number | undefined;
  #lastError: string | undefined;
  /** Held (a stop or a handover): what became of its deliveries since (see {@link held}). */
  #held: HeldCounts | undefined;

  /** An actor for queue `options.id`. */
  constructor(options: DeliveryActorOptions) {
    this.id = options.id;
    this.kind = options.kind;
    this.#options = options;
    this.#ready = new ReadyQueue(options.held ? { budget: options.held } : {});
    this.#reader = new QueueReader({
      id: options.id,
      store: options.store,
      clock: options.clock,
      log: options.log,
      ready: this.#ready,
      completing: this.#completing,
    });
    this.#completions = new PendingWrites({
      maxPending: MAX_COMPLETING,
      backlog: () => options.store.commitBacklog,
    });
  }

  /**
   * Stopping or handing over: nothing more goes out on its own (see {@link Deliverer.hold}); the
   * supervisor lets the message on the wire (and one its socket sent ahead) be taken in first.
   */
  hold(): void {
    this.#held ??= { marked: 0, unmarked: 0 };
    this.#options.deliverer.hold?.();
  }

  /** Deliveries marked since {@link hold}, and those left unmarked (see {@link Actor.held}). */
  held(): HeldCounts {
    return { ...(this.#held ?? { marked: 0, unmarked: 0 }) };
  }

  /** Whether the deliverer sent the head ahead and its outcome is still to be taken. */
  #aheadIsHead(): boolean {
    const ahead = this.#options.deliverer.sentAhead?.();
    return ahead !== undefined && ahead === this.#ready.head?.head.entry.seq &&
      this.#ready.headIsNext;
  }

  /** New messages may be queued in KV. */
  notify(): void {
    this.#look = true;
    this.#newWork.wake();
  }

  /**
   * The supervisor read the queue's depth in KV: a warm actor (memory knows every entry of the
   * KV queue) looks from the head only when KV holds more entries than it knows of. Until now,
   * every actor listed its queue every poll period to learn that: with a thousand destinations, a
   * thousand KV reads a second, idle or not.
   */
  queueDepth(depth: number): void {
    this.#told.told(this.#options.clock.monotonic());
    if (this.#ready.cold || depth <= this.#ready.known) return;
    this.#depthLook = true;
    this.#newWork.wake();
  }

  /**
   * Whether to look at the KV queue from its head now (`sinceScan`: ms since the last look).
   * Cold (KV may hold what memory does not): every poll period, deferred while other actors'
   * reads fill the read gate. Warm: when the supervisor's depth says KV holds more than memory
   * knows, else every poll period only while no depth comes (an actor run on its own, or a
   * supervisor that stopped telling), and once in 30 periods regardless (see `told_depth.ts`).
   */
  #lookDue(mono: number, sinceScan: number, pollMs: number): boolean {
    if (this.#ready.cold) {
      return sinceScan >= pollMs &&
        (!this.#options.store.queueReads.busy || sinceScan >= pollMs * SCAN_DEFER);
    }
    if (this.#depthLook) return true;
    return sinceScan >= this.#told.lookEvery(mono, pollMs);
  }

  /**
   * How long an idle actor sleeps unless woken: a cold one a poll period (it looks at KV every
   * period); a warm one as `told_depth.ts` says, until its own look, its connection's idle close
   * or `deactivateAt` (monotonic ms).
   */
  #idleSleep(mono: number, pollMs: number, deactivateAt: number | undefined): number {
    if (this.#ready.cold) return pollMs;
    const closes = this.#options.deliverer.idleCloseAt?.();
    return this.#told.idleSleep(mono, pollMs, this.#reader.lastScan, closes, deactivateAt);
  }

  /** Entries just committed to this actor's queue, handed over so they need not be read back. */
  take(items: readonly QueueItem[]): void {
    this.#ready.take(
      items.map((item) =>
        item.payload && item.payload.length > MAX_HELD_PAYLOAD
          ? { head: item.head, record: item.record, log: item.log }
          : item
      ),
    );
    this.#newWork.wake();
  }

  /** The delivery loop; see the module doc. */
  async run(signal: AbortSignal): Promise<void> {
    const { store, clock, deliverer } = this.#options;
    const pollMs = this.#options.pollMs ?? 1000;
    const idleLimit = this.#options.idleDeactivateMs ?? 5 * 60_000;
    // A command may have arrived while the actor was starting: it wins over what KV held.
    const stored = await store.getControl(this.id);
    this.#control ??= stored;
    // Delivered by an earlier activation in this process, not completed when it ended: completed
    // now, and known meanwhile, so that KV listing them does not send them again.
    const owed = store.owed.of(this.id);
    if (owed.length > 0) {
      const completions = owed.map((o) => this.#complete(o.head, o.attempt, o.log, signal));
      this.#ready.reset(this.#completing);
      this.#options.log.info("delivery.completing-owed", {
        actor: this.id,
        messages: owed.length,
        why: "delivered before this activation, not yet marked delivered: not sent again",
      });
      for (const c of completions) await this.#completions.add(c);
    }
    // Idle periods and the poll period on the monotonic clock: a wall-clock step neither ends
    // nor stretches them.
    let idleSince = clock.monotonic();
    try {
      while (!signal.aborted) {
        // Paused: a message its socket sent ahead before the pause is still taken in (its
        // attempt finishes, as the one in flight does); nothing else goes.
        if (this.#control.paused && !this.#aheadIsHead()) {
          this.#state = "paused";
          await clock.sleep(pollMs, AbortSignal.any([signal, this.#newWork.signal()]));
          continue;
        }
        if (!store.health.writable) {
          // Nothing delivered now could be marked delivered: wait for KV, then go on.
          this.#state = "backoff";
          await waitWritable(store.health, clock, signal);
          continue;
        }
        const mono = clock.monotonic();
        const sinceScan = mono - this.#reader.lastScan;
        if (this.#lookDue(mono, sinceScan, pollMs)) {
          // Other processes write to this queue too (scale-out), and a commit may land out of
          // seq order: a look from the head finds what was not handed over (see #lookDue for
          // when). A cold actor's look goes through the read gate (see #read): while other
          // actors' reads fill it, the look waits (up to SCAN_DEFER polls) rather than wait in
          // line and hold up what memory holds.
          this.#depthLook = false;
          this.#reader.lastScan = mono;
          await this.#reader.done();
          await this.#reader.read(false);
        }
        if (this.#look && this.#ready.headIsNext) {
          // A notify while the head may go: what it announces comes after the cursor, so it is
          // read while the head is on the wire instead of before (a writer that notifies every
          // message would otherwise put a KV read before every send). One read at a time: one
          // under way keeps the notify for the next.
          if (!this.#reader.reading) {
            this.#look = false;
            this.#reader.readOn();
          }
        } else if (this.#look || (this.#ready.cold && !this.#ready.headIsNext)) {
          // After a notify, or while KV may hold what comes next, read on from the cursor (a
          // read ahead under way may bring it).
          await this.#reader.done();
          if (this.#look || (this.#ready.cold && !this.#ready.headIsNext)) {
            this.#look = false;
            await this.#reader.read(true);
          }
        }
        const item = this.#ready.headIsNext ? this.#ready.head : undefined;
        if (!item) {
          if (this.#reader.reading) {
            // A read on from the cursor is under way: what it brings goes next.
            await this.#reader.done();
            continue;
          }
          if (this.#ready.cold && this.#ready.room > 0) {
            // KV listed only entries still completing: once those commit, read on.
            await this.#completions.settle();
            this.#look = true;
            continue;
          }
          this.#state = "idle";
          await deliverer.idle?.(mono);
          const connected = deliverer.holdsConnection?.() === true;
          if (mono - idleSince >= idleLimit && !connected) return;
          const wake = connected ? undefined : idleSince + idleLimit;
          await clock.sleep(
            this.#idleSleep(mono, pollMs, wake),
            AbortSignal.any([signal, this.#newWork.signal()]),
          );
          continue;
        }
        idleSince = mono;
        // Scale-out: an entry another process committed late, older than this head, goes first.
        if (
          this.#shared() && !this.#aheadIsHead() &&
          !(await this.#reader.confirmHead(item, () => this.#control?.paused === true))
        ) continue;
        this.#reader.readAhead();
        await this.#attempt(item, signal);
      }
    } finally {
      this.#state = "stopped";
      try {
        await this.#reader.settle();
        await this.#completions.settle();
      } finally {
        // Delivered and not marked: completed by a next activation in this process, if any.
        if (this.#held) this.#held.unmarked += store.owed.of(this.id).length;
        // What memory held goes back (to the shared budget too). The queue is cold again: nothing
        // handed over is held until a next run has read KV from its head.
        this.#ready.reset(this.#completing);
        await deliverer.close();
      }
    }
  }

  /** Whether other processes commit to this queue too (see {@link Deliverer.shared}). */
  #shared(): boolean {
    return this.#options.deliverer.shared?.() === true;
  }

  /** One attempt at the head of the queue. */
  async #attempt(item: QueueItem, signal: AbortSignal): Promise<void> {
    const { head } = item;
    const epoch = this.#reader.epoch;
    // In flight from the moment the head is taken, so a skip arriving during the read below
    // aborts this attempt instead of letting a dead-lettered message go out.
    // Aborted by a skip of this message, or by the actor stopping (cheaper than AbortSignal.any
    // on every message).
    const skip = new AbortController();
    const stopping = () => skip.abort(STOPPING);
    signal.addEventListener("abort", stopping, { once: true });
    this.#inFlight = { head, skip };
    this.#current = head;
    // Until the deliverer says more (connecting, awaiting the ACK): a retry is not shown as the
    // backoff that came before it.
    this.#state = "sending";
    if (this.#since?.seq !== head.entry.seq) {
      this.#since = { seq: head.entry.seq, at: this.#options.clock.now() };
    }
    try {
      await this.#settle(item, signal, epoch, skip, stopping);
    } finally {
      // Recorded, or left queued for the next activation: nothing of it is under way any more.
      if (this.#current === head) this.#current = undefined;
    }
  }

  /** The attempt {@link #attempt} began: delivers `item`, records the outcome, waits a backoff. */
  async #settle(
    item: QueueItem,
    signal: AbortSignal,
    epoch: number,
    skip: AbortController,
    stopping: () => void,
  ): Promise<void> {
    const { store, clock, deliverer, log } = this.#options;
    const { head, record } = item;
    let outcome;
    // Whether this attempt's message went on the wire (the deliverer said it was sending it or
    // awaiting its ACK): one a stop cuts off then may have arrived.
    let onWire = false;
    // The attempt's duration on the monotonic clock (one read per attempt, no allocation).
    let started = clock.monotonic();
    try {
      const payload = item.payload ?? await store.getPayload(record);
      if (signal.aborted || skip.signal.aborted) return;
      started = clock.monotonic();
      outcome = await deliverer.deliver({
        head,
        record,
        payload,
        ...(item.log ? { log: item.log } : {}),
        signal: skip.signal,
        setState: (s) => {
          this.#state = s;
          onWire = s === "sending" || s === "awaiting-ack";
        },
        // Sent ahead, an entry would go unchecked against the KV head: not while KV is shared.
        upcoming: (max) => this.#shared() ? [] : this.#ready.following(head.entry.seq, max),
      });
    } finally {
      this.#inFlight = undefined;
      signal.removeEventListener("abort", stopping);
    }
    if (signal.aborted) {
      // Stopping: the head stays and is sent again after restart. On the wire, it may have
      // arrived (a stop's grace ended before its ACK did).
      if (this.#held && onWire) this.#held.unmarked++;
      return;
    }
    if (skip.signal.aborted) {
      // Already dead-lettered by the operator; say that the receiver may have it.
      await this.#durably(() =>
        store.recordAttempt(head.entry.logId, {
          at: clock.now(),
          outcome: "FAILED",
          reason: "skipped by an operator during the attempt; the receiver may have received it",
          durationMs: clock.monotonic() - started,
        }), signal);
      return;
    }
    const at = clock.now();
    this.#lastActivityAt = at;
    const durationMs = clock.monotonic() - started;
    if (outcome.ok) {
      if (epoch === this.#reader.epoch) this.#ready.remove(head.entry.seq);
      const attempt = { at, outcome: "SUCCEEDED" as const, reason: outcome.detail, durationMs };
      const known = item.log ?? undefined;
      store.owed.add(head, attempt, known);
      await this.#completions.add(this.#complete(head, attempt, known, signal));
      this.#failures = 0;
      this.#lastError = undefined;
      log.debug("delivery.succeeded", {
        actor: this.id,
        messageId: head.entry.messageId,
        detail: outcome.detail,
      });
      return;
    }
    this.#lastError = outcome.reason;
    // Earlier completions land before this failure is recorded and the queue waits.
    await this.#completions.settle();
    if (outcome.deadLetter) {
      await this.#durably(() =>
        store.deadLetter(head, "policy:dead-letter", outcome.reason, {
          at,
          outcome: "FAILED",
          reason: outcome.reason,
          durationMs,
        }), signal);
      if (epoch === this.#reader.epoch) this.#ready.remove(head.entry.seq);
      this.#ready.forget(head.entry.seq);
      log.warn("delivery.dead-lettered", {
        actor: this.id,
        ...(head.entry.destinationId ? { destination: head.entry.destinationId } : {}),
        messageId: head.entry.messageId,
        logId: head.entry.logId,
        ...(record.controlId !== undefined ? { controlId: record.controlId } : {}),
        reason: outcome.reason,
      });
      return;
    }
    this.#failures++;
    await this.#durably(() =>
      store.recordAttempt(head.entry.logId, {
        at,
        outcome: "FAILED",
        reason: outcome.reason,
        durationMs,
      }), signal);
    // The log changed in KV: the completion reads it again instead of writing a stale copy.
    item.log = null;
    const delay = retryDelayMs(this.#failures);
    this.#nextRetryAt = at + delay;
    this.#state = "backoff";
    // Recorded: while it waits, the status shows the head from KV with its attempts.
    this.#current = undefined;
    log.warn("delivery.failed", {
      actor: this.id,
      // Which destination (an MLLP actor may serve several), log and sender's control id: what an
      // operator greps for.
      ...(head.entry.destinationId ? { destination: head.entry.destinationId } : {}),
      messageId: head.entry.messageId,
      logId: head.entry.logId,
      ...(record.controlId !== undefined ? { controlId: record.controlId } : {}),
      reason: outcome.reason,
      failures: this.#failures,
      retryInMs: delay,
    });
    // Only retry now, resume, skip or stop cut the wait short; new messages queue behind the head.
    const cut = new AbortController();
    this.#cutBackoff = cut;
    await clock.sleep(delay, AbortSignal.any([signal, cut.signal]));
    this.#cutBackoff = undefined;
    this.#nextRetryAt = undefined;
  }

  /**
   * Completes `head`, delivered (log SUCCEEDED with `attempt`, entry removed), in the background
   * of the next deliveries; it stays owed to the next activation if this one stops first.
   */
  #complete(
    head: QueueHead,
    attempt: Omit<Attempt, "n">,
    log: LogRecord | undefined,
    signal: AbortSignal,
  ): Promise<boolean | undefined> {
    const { store } = this.#options;
    const seq = head.entry.seq;
    this.#completing.add(seq);
    return this.#durably(() => store.complete(head, attempt, log ? { log } : {}), signal).then(
      (result) => {
        // Committed, or the entry was gone: nothing is owed. Undefined: stopped before it could
        // commit; the next activation of this process completes it.
        if (result !== undefined) {
          store.owed.settled(head.queue, seq);
          if (this.#held) this.#held.marked++;
        }
        this.#completing.delete(seq);
        this.#ready.forget(seq);
        return result;
      },
    );
  }

  /**
   * Runs a store write, waiting for KV while it cannot commit and then trying again, so the actor
   * neither crashes nor spins and a delivered message is completed, not sent again. Undefined when
   * the actor stops first: the head stays queued, as any message in flight at a stop does.
   */
  async #durably<T>(write: () => Promise<T>, signal: AbortSignal): Promise<T | undefined> {
    const { store, clock } = this.#options;
    while (!signal.aborted) {
      try {
        return await write();
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        const state = this.#state;
        this.#state = "backoff";
        await waitWritable(store.health, clock, signal);
        this.#state = state;
      }
    }
    return undefined;
  }

  /** Carries out pause, resume, retry (now) or skip (head to the dead-letter list). */
  async command(command: ActorCommand, by: string, reason: string): Promise<CommandResult> {
    const { store, clock } = this.#options;
    switch (command) {
      case "pause": {
        this.#control = { paused: true, by, reason, at: clock.now() };
        this.#options.deliverer.hold?.();
        await store.setControl(this.id, this.#control);
        this.#newWork.wake();
        return { ok: true, message: "paused; a message in flight finishes its attempt" };
      }
      case "resume": {
        this.#control = { paused: false, by, reason, at: clock.now() };
        this.#options.deliverer.release?.();
        await store.setControl(this.id, this.#control);
        this.#newWork.wake();
        this.#cutBackoff?.abort();
        return { ok: true, message: "resumed" };
      }
      case "retry": {
        if (this.#nextRetryAt === undefined) return { ok: false, message: "no retry is waiting" };
        this.#cutBackoff?.abort();
        return { ok: true, message: "retrying the head now" };
      }
      case "skip": {
        // Messages already delivered but not yet completed in KV are not the head to skip.
        await this.#completions.settle();
        // A look, not a read: an unreadable head is the one skipped (set aside), not the next.
        const head = await store.look(this.id);
        if (!head) return { ok: false, message: "the queue is empty" };
        const moved = await store.deadLetter(head, by, reason);
        if (!moved) return { ok: false, message: "the head changed meanwhile; look again" };
        if (head.unreadable) return { ok: true, message: unreadableSkipped(head) };
        this.#reader.epoch++;
        // What memory holds may include the skipped head: read the queue again from KV.
        this.#ready.reset(this.#completing);
        if (this.#inFlight?.head.entry.seq === head.entry.seq) this.#inFlight.skip.abort();
        else if (this.#options.deliverer.sentAhead?.() === head.entry.seq) {
          // Sent ahead by its socket, its ACK not taken yet: no attempt of the actor's will say so.
          await store.recordAttempt(head.entry.logId, {
            at: clock.now(),
            outcome: "FAILED",
            reason: "skipped by an operator while on the wire; the receiver may have received it",
            durationMs: 0,
          });
        }
        this.#failures = 0;
        // The failing head is gone: its error no longer says how this queue stands.
        this.#lastError = undefined;
        this.#cutBackoff?.abort();
        this.#newWork.wake();
        return {
          ok: true,
          message: `message ${head.entry.messageId} moved to the dead-letter list`,
        };
      }
    }
  }

  /** A snapshot for the admin endpoint. */
  async status(): Promise<ActorStatus> {
    const { store, clock, deliverer } = this.#options;
    const { status, head } = await queueStatus({
      id: this.id,
      kind: this.kind,
      state: this.#state,
      store,
      now: clock.now(),
      mono: clock.monotonic(),
      ...(this.#control ? { control: this.#control } : {}),
    });
    // The message being sent, or the head waiting for its retry.
    const current = this.#current ?? (this.#nextRetryAt !== undefined ? head : undefined);
    if (current) {
      // Attempts made so far (one under way is recorded when it ends).
      const log = await store.getLog(current.entry.logId);
      const since = this.#since?.seq === current.entry.seq ? this.#since.at : undefined;
      status.inFlight = {
        messageId: current.entry.messageId,
        logId: current.entry.logId,
        attempts: log?.attemptCount ?? 0,
        ...(since !== undefined ? { since } : {}),
      };
    }
    // The state and its retry time of one moment, after the reads above (the actor moves on
    // meanwhile): never a backoff without the time it ends, read before that backoff began.
    status.state = this.#state;
    if (this.#nextRetryAt !== undefined) status.nextRetryAt = this.#nextRetryAt;
    if (this.#lastActivityAt !== undefined) status.lastActivityAt = this.#lastActivityAt;
    if (this.#lastError !== undefined) status.lastError = this.#lastError;
    if (deliverer.holdsConnection) status.socket = deliverer.holdsConnection() ? "open" : "closed";
    const detail = deliverer.detail?.();
    if (detail) status.detail = detail;
    return status;
  }
}
