/**
 * Sending the outbox, one lane per channel. A channel's deliveries go one at a time, oldest
 * notification first (a delivery waiting out its backoff does not hold the ones after it); the
 * lanes run side by side, at most `maxParallel` attempts at once, taking turns when more channels
 * have work. So a slow or hung channel holds only its own lane, for at most its deadline per
 * attempt, and the monitor's evaluation never waits for a send.
 *
 * A notification's record holds every channel's progress: the lanes share one copy of each
 * notification in memory (read from the outbox once, then kept while it is there) and write it in
 * turn, so one channel's result never overwrites another's. An attempt is written when it ends;
 * one aborted (the monitor stopping, the lease lost) is not written at all: its delivery stays
 * pending in KV as it was, for this process after a restart or for the next lease holder.
 *
 * A delivery's retry time is a wall timestamp in its record (shown, and kept for other processes
 * and later runs), but the backoff is waited out on the monotonic clock (`anchors.ts`): a
 * wall-clock step neither sends a retry early nor holds it back by the step.
 * @module
 */

import type { AlertChannelConfig } from "../config/alerts.ts";
import type { Clock } from "../runtime/clock.ts";
import { errorMessage } from "../runtime/errors.ts";
import type { Logger } from "../runtime/log.ts";
import type { AlertNotification, AlertStore, ChannelDelivery } from "../store/alerts.ts";
import { WallAnchors } from "./anchors.ts";
import { attemptOnce } from "./attempt.ts";
import { attemptsOf, backoffMs, type ChannelDeps } from "./channels.ts";

/** Notifications read from the outbox per pass (oldest first). */
export const OUTBOX_PAGE = 500;

/** Attempts under way at once, over all channels, unless the options say otherwise. */
export const DEFAULT_MAX_PARALLEL = 8;

/** What the dispatcher is built from. */
export interface DispatcherOptions {
  alerts: AlertStore;
  /** The channels in force (a config reload replaces them). */
  channels: () => readonly AlertChannelConfig[];
  deps: ChannelDeps;
  clock: Clock;
  log: Logger;
  /** Attempts under way at once over all channels (one per channel at most). */
  maxParallel?: number;
  /** How long an attempt past its deadline is waited for before it is abandoned. */
  graceMs?: number;
  /**
   * Called when a failed attempt was given a retry time, `at` on the monotonic clock
   * (`Clock.monotonic`; the monitor wakes up for it).
   */
  onRetry?: (at: number) => void;
}

/** A notification as the lanes share it. */
interface Entry {
  n: AlertNotification;
  /** Deliveries of it queued or under way. */
  jobs: number;
  /** Its record's writes, one after the other. */
  writing: Promise<void>;
  writes: number;
  /** How many outbox reads had begun when its last write ended. */
  readsAtWrite: number;
}

interface Job {
  entry: Entry;
  delivery: ChannelDelivery;
  key: string;
  done: () => void;
}

interface Lane {
  id: string;
  queue: Job[];
  busy: boolean;
}

/** What a pass over the outbox did. */
export interface Drained {
  /** Resolves once every delivery queued or under way has been attempted (or dropped). */
  settled: Promise<void>;
}

/** See the module doc. */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #max: number;
  readonly #live = new Map<string, Entry>();
  readonly #lanes = new Map<string, Lane>();
  /** Lanes with a job waiting and none under way, in turn order. */
  #ready: Lane[] = [];
  /** Deliveries queued or under way, by notification id and delivery index. */
  readonly #queued = new Map<string, Promise<void>>();
  readonly #running = new Set<Promise<void>>();
  #control = new AbortController();
  #closed = false;
  #reads = 0;
  #passes: Promise<unknown> = Promise.resolve();
  /** The deliveries' retry times on the monotonic clock, by delivery key. */
  readonly #due: WallAnchors;

  /** A dispatcher; {@link drain} feeds it. */
  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#due = new WallAnchors(options.clock);
    this.#max = Math.max(1, options.maxParallel ?? DEFAULT_MAX_PARALLEL);
  }

  /** Reads the outbox and queues every delivery due and not queued yet on its channel's lane. */
  drain(): Promise<Drained> {
    const pass = this.#passes.then(() => this.#drain());
    this.#passes = pass.catch(() => {});
    return pass;
  }

  /**
   * When the earliest delivery waiting out its backoff is due, if any: a reading of the monotonic
   * clock (`Clock.monotonic`).
   */
  nextDue(): number | undefined {
    let due: number | undefined;
    for (const e of this.#live.values()) {
      e.n.deliveries.forEach((d, i) => {
        const key = `${e.n.id}\u0000${i}`;
        if (d.status !== "pending" || this.#queued.has(key)) return;
        const at = this.#due.monoOf(key, d.nextAt);
        due = Math.min(due ?? at, at);
      });
    }
    return due;
  }

  /** Resolves once every delivery queued or under way now has been attempted (or dropped). */
  idle(): Promise<void> {
    return Promise.all(this.#queued.values()).then(() => {});
  }

  /**
   * Aborts the attempts under way and drops the queued ones (all stay pending in KV), then forgets
   * the notifications it held: after the lease went elsewhere, KV is the truth again.
   */
  async halt(reason: string): Promise<void> {
    const control = this.#control;
    this.#control = new AbortController();
    control.abort(new Error(reason));
    for (const lane of this.#lanes.values()) for (const job of lane.queue.splice(0)) this.#end(job);
    this.#ready = [];
    await Promise.all(this.#running);
    this.#live.clear();
    this.#due.retain(() => false);
  }

  /** Halts for good: no attempt starts after this. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.halt("the alert monitor is stopping");
  }

  async #drain(): Promise<Drained> {
    const control = this.#control;
    const readNo = ++this.#reads;
    const outbox = this.#closed ? [] : await this.#o.alerts.outbox(OUTBOX_PAGE);
    if (this.#closed || control !== this.#control) return { settled: this.idle() };
    const seen = new Set<string>();
    for (const fresh of outbox) {
      seen.add(fresh.id);
      if (!this.#live.has(fresh.id)) {
        this.#live.set(fresh.id, {
          n: fresh,
          jobs: 0,
          writing: Promise.resolve(),
          writes: 0,
          readsAtWrite: 0,
        });
      }
    }
    // A copy may be forgotten once no lane holds it and an outbox read begun after its last
    // write did not list it: KV has all of it then, and no earlier (stale) read is still used.
    for (const [id, e] of this.#live) {
      if (!seen.has(id) && e.jobs === 0 && e.writes === 0 && e.readsAtWrite < readNo) {
        this.#live.delete(id);
      }
    }
    this.#due.retain((key) => this.#live.has(key.slice(0, key.indexOf("\u0000"))));
    for (const entry of this.#live.values()) {
      entry.n.deliveries.forEach((d, i) => {
        const key = `${entry.n.id}\u0000${i}`;
        if (d.status !== "pending" || this.#queued.has(key)) return;
        // Still to come (`since` anchors a time first seen before it reads the clock: one due
        // now is due, not a moment between two readings early).
        if (this.#due.since(key, d.nextAt) < 0) return;
        this.#enqueue(entry, d, key);
      });
    }
    this.#pump();
    return { settled: this.idle() };
  }

  #enqueue(entry: Entry, delivery: ChannelDelivery, key: string): void {
    let lane = this.#lanes.get(delivery.channel);
    if (!lane) {
      lane = { id: delivery.channel, queue: [], busy: false };
      this.#lanes.set(lane.id, lane);
    }
    let done!: () => void;
    this.#queued.set(key, new Promise<void>((resolve) => (done = resolve)));
    entry.jobs++;
    lane.queue.push({ entry, delivery, key, done });
    if (!lane.busy && !this.#ready.includes(lane)) this.#ready.push(lane);
  }

  /** Starts the next job of ready lanes while fewer than `maxParallel` are under way. */
  #pump(): void {
    while (this.#running.size < this.#max && this.#ready.length > 0 && !this.#closed) {
      const lane = this.#ready.shift()!;
      const job = lane.queue.shift();
      if (!job) continue;
      lane.busy = true;
      const attempt = this.#attempt(job, this.#control.signal);
      const run: Promise<void> = attempt.catch((error) => {
        this.#o.log.warn("alerts.send-error", { id: job.entry.n.id, channel: lane.id, error });
      }).finally(() => {
        this.#running.delete(run);
        lane.busy = false;
        this.#end(job);
        if (lane.queue.length > 0) this.#ready.push(lane);
        this.#pump();
        if (job.delivery.status === "pending") {
          const due = this.#due.monoOf(job.key, job.delivery.nextAt);
          if (due > this.#o.clock.monotonic()) this.#o.onRetry?.(due);
        }
      });
      this.#running.add(run);
    }
  }

  #end(job: Job): void {
    job.entry.jobs--;
    this.#queued.delete(job.key);
    job.done();
  }

  /** One attempt of `job`, its outcome logged and written (unless aborted). */
  async #attempt(job: Job, signal: AbortSignal): Promise<void> {
    const { clock, log, deps } = this.#o;
    const { entry: { n }, delivery: d } = job;
    const channel = this.#o.channels().find((c) => c.id === d.channel);
    if (signal.aborted) return;
    if (!channel) {
      d.status = "failed";
      d.lastError = `no channel ${d.channel} in the config`;
      log.error("alert.send-failed", { id: n.id, channel: d.channel, error: d.lastError });
      return await this.#record(job.entry);
    }
    try {
      await attemptOnce(channel, n, deps, signal, this.#o.graceMs);
      d.attempts++;
      d.status = "sent";
      d.sentAt = clock.now();
      delete d.lastError;
      log.info("alert.sent", { id: n.id, rule: n.rule, event: n.event, channel: d.channel });
    } catch (error) {
      if (signal.aborted) {
        // Not counted, not written: it stays pending as KV has it.
        log.info("alert.send-aborted", {
          id: n.id,
          channel: d.channel,
          error: errorMessage(signal.reason),
        });
        return;
      }
      d.attempts++;
      d.lastError = errorMessage(error);
      if (d.attempts >= attemptsOf(channel)) {
        d.status = "failed";
        log.error("alert.send-failed", {
          id: n.id,
          channel: d.channel,
          attempts: d.attempts,
          error: d.lastError,
        });
      } else {
        const backoff = backoffMs(d.attempts);
        d.nextAt = clock.now() + backoff;
        this.#due.mark(job.key, d.nextAt, clock.monotonic() + backoff);
        log.warn("alert.send-retry", {
          id: n.id,
          channel: d.channel,
          attempts: d.attempts,
          retryInMs: backoff,
          error: d.lastError,
        });
      }
    }
    await this.#record(job.entry);
  }

  /** Writes `entry`'s record after the writes before it; a failed write is logged. */
  async #record(entry: Entry): Promise<void> {
    entry.writes++;
    const write = entry.writing.then(() => this.#o.alerts.record(entry.n));
    entry.writing = write.catch(() => {});
    try {
      await write;
    } catch (error) {
      this.#o.log.warn("alerts.record-failed", { id: entry.n.id, error });
    } finally {
      entry.writes--;
      entry.readsAtWrite = this.#reads;
    }
  }
}
