/**
 * A destination's delivery actor: takes its KV queue first-in-first-out with exactly one message
 * in flight. Success completes the head; failure keeps it at the head and retries on the schedule
 * of DESIGN.md while the queue waits; an operator may pause, resume, retry now or skip.
 *
 * While KV cannot commit (a full disk) deliveries pause: nothing new goes out, and a message
 * already delivered waits for its completion to commit (tried again with a backoff) instead of
 * being sent again by a restart.
 * @module
 */

import type {
  Actor,
  ActorCommand,
  ActorState,
  ActorStatus,
  CommandResult,
} from "../runtime/actor.ts";
import { Wakeup } from "../runtime/actor.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import { PendingWrites } from "../runtime/pending_writes.ts";
import { queueStatus } from "../runtime/queue_status.ts";
import { retryDelayMs } from "../runtime/retry.ts";
import { waitWritable } from "../runtime/storage_wait.ts";
import { StoreUnavailableError } from "../store/health.ts";
import type { QueueHead, Store } from "../store/store.ts";
import type { ActorControl, LogRecord, MessageRecord } from "../store/types.ts";
import type { Deliverer } from "./deliverer.ts";

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
}

/** Queue entries read at once. */
const BATCH = 64;

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
  #failures = 0;
  /**
   * Completing a delivered message (log SUCCEEDED, entry removed) commits while the next message
   * is on the wire: the peer already has it, so order and one-in-flight hold, and under load the
   * group committer puts several completions on one fsync. A crash before the commit resends that
   * message after the restart (a counted duplicate), as with any in-flight message.
   */
  readonly #completions: PendingWrites;
  /** Bumped by a skip, so a batch read before it is not sent on. */
  #epoch = 0;
  #nextRetryAt: number | undefined;
  #lastActivityAt: number | undefined;
  #lastError: string | undefined;

  /** An actor for queue `options.id`. */
  constructor(options: DeliveryActorOptions) {
    this.id = options.id;
    this.kind = options.kind;
    this.#options = options;
    this.#completions = new PendingWrites({ backlog: () => options.store.commitBacklog });
  }

  /** New messages may be queued. */
  notify(): void {
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
    let idleSince = clock.now();
    try {
      while (!signal.aborted) {
        if (this.#control.paused) {
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
        const heads = await store.peek(this.id, BATCH);
        if (heads.length === 0) {
          this.#state = "idle";
          const now = clock.now();
          await deliverer.idle?.(now);
          if (now - idleSince >= idleLimit && !deliverer.holdsConnection?.()) return;
          await clock.sleep(pollMs, AbortSignal.any([signal, this.#newWork.signal()]));
          continue;
        }
        // A few reads for the records and logs of the whole batch instead of two per message.
        // Only this actor changes the logs of its queued entries, so they stay current.
        const [records, logs] = await Promise.all([
          store.getMessages(heads.map((h) => h.entry.messageId)),
          store.getLogs(heads.map((h) => h.entry.logId)),
        ]);
        const epoch = this.#epoch;
        for (let i = 0; i < heads.length; i++) {
          // A skip re-reads the queue: the batch read before it may hold the skipped head.
          if (signal.aborted || this.#control.paused || epoch !== this.#epoch) break;
          if (!store.health.writable) break;
          if (!await this.#attempt(heads[i]!, records[i] ?? null, logs[i] ?? null, signal)) break;
        }
        // The next batch is read only once this one's completions are in KV.
        await this.#completions.settle();
        idleSince = clock.now();
      }
    } finally {
      this.#state = "stopped";
      try {
        await this.#completions.settle();
      } finally {
        await deliverer.close();
      }
    }
  }

  /** One attempt; false when the rest of the batch must not follow (failure, skip, stop). */
  async #attempt(
    head: QueueHead,
    record: MessageRecord | null,
    sendLog: LogRecord | null,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { store, clock, deliverer, log } = this.#options;
    // In flight from the moment the head is taken, so a skip arriving during the reads below
    // aborts this attempt instead of letting a dead-lettered message go out.
    const skip = new AbortController();
    this.#inFlight = { head, skip };
    let outcome;
    let started = clock.now();
    try {
      if (!record) {
        // Should not happen (records are committed before entries); never block the queue on it.
        await this.#durably(
          () =>
            store.deadLetter(head, "engine", `message ${head.entry.messageId} is missing from KV`),
          signal,
        );
        log.error("delivery.missing-message", { actor: this.id, messageId: head.entry.messageId });
        return true;
      }
      const payload = await store.getPayload(record);
      // The log's attempt count is read by status() when asked, not here on every message: one KV
      // read less per delivery.
      if (signal.aborted || skip.signal.aborted) return false;
      started = clock.now();
      outcome = await deliverer.deliver({
        head,
        record,
        payload,
        signal: AbortSignal.any([signal, skip.signal]),
        setState: (s) => (this.#state = s),
      });
    } finally {
      this.#inFlight = undefined;
    }
    if (signal.aborted) return false; // stopping: the head stays and is sent again after restart
    if (skip.signal.aborted) {
      // Already dead-lettered by the operator; say that the receiver may have it.
      await this.#durably(() =>
        store.recordAttempt(head.entry.logId, {
          at: clock.now(),
          outcome: "FAILED",
          reason: "skipped by an operator during the attempt; the receiver may have received it",
          durationMs: clock.now() - started,
        }), signal);
      return false;
    }
    const at = clock.now();
    this.#lastActivityAt = at;
    const durationMs = at - started;
    if (outcome.ok) {
      await this.#completions.add(this.#durably(() =>
        store.complete(
          head,
          { at, outcome: "SUCCEEDED", reason: outcome.detail, durationMs },
          sendLog ? { log: sendLog } : {},
        ), signal));
      this.#failures = 0;
      this.#lastError = undefined;
      log.debug("delivery.succeeded", {
        actor: this.id,
        messageId: head.entry.messageId,
        detail: outcome.detail,
      });
      return true;
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
      log.warn("delivery.dead-lettered", {
        actor: this.id,
        messageId: head.entry.messageId,
        reason: outcome.reason,
      });
      return true;
    }
    this.#failures++;
    await this.#durably(() =>
      store.recordAttempt(head.entry.logId, {
        at,
        outcome: "FAILED",
        reason: outcome.reason,
        durationMs,
      }), signal);
    const delay = retryDelayMs(this.#failures);
    this.#nextRetryAt = at + delay;
    this.#state = "backoff";
    log.warn("delivery.failed", {
      actor: this.id,
      messageId: head.entry.messageId,
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
    return false;
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
        await store.setControl(this.id, this.#control);
        this.#newWork.wake();
        return { ok: true, message: "paused; a message in flight finishes its attempt" };
      }
      case "resume": {
        this.#control = { paused: false, by, reason, at: clock.now() };
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
        const [head] = await store.peek(this.id);
        if (!head) return { ok: false, message: "the queue is empty" };
        const moved = await store.deadLetter(head, by, reason);
        if (!moved) return { ok: false, message: "the head changed meanwhile; look again" };
        this.#epoch++;
        if (this.#inFlight?.head.entry.seq === head.entry.seq) this.#inFlight.skip.abort();
        this.#failures = 0;
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
      ...(this.#control ? { control: this.#control } : {}),
    });
    // The message being sent, or the head waiting for its retry.
    const current = this.#inFlight?.head ?? (this.#nextRetryAt !== undefined ? head : undefined);
    if (current) {
      // Attempts made so far (one under way is recorded when it ends).
      const log = await store.getLog(current.entry.logId);
      status.inFlight = {
        messageId: current.entry.messageId,
        logId: current.entry.logId,
        attempts: log?.attemptCount ?? 0,
      };
    }
    if (this.#nextRetryAt !== undefined) status.nextRetryAt = this.#nextRetryAt;
    if (this.#lastActivityAt !== undefined) status.lastActivityAt = this.#lastActivityAt;
    if (this.#lastError !== undefined) status.lastError = this.#lastError;
    if (deliverer.holdsConnection) status.socket = deliverer.holdsConnection() ? "open" : "closed";
    const detail = deliverer.detail?.();
    if (detail) status.detail = detail;
    return status;
  }
}
