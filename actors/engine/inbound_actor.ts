/**
 * The application step of an inbound integration actor (`mllp-in:<port>:<peerIp>`): take the
 * queue in order, parse, pick destinations by subscription, and move each message to their
 * queues in one atomic step. What nobody wants is logged FILTERED; what cannot be read is moved
 * aside FAILED with the reason, kept for reprocessing, and never blocks the queue. Every
 * destination a subscription selects gets a SEND log: one whose form cannot be made (JSON of a
 * message no data model maps) has its share queued back here, then dead-lettered FAILED with the
 * reason; reprocessed, it is planned again for that destination alone.
 * @module
 */

import { parseErrorCondition } from "../../codecs/hl7v2/mod.ts";
import type { Config } from "../config/mod.ts";
import {
  type Actor,
  type ActorCommand,
  type ActorState,
  type ActorStatus,
  type CommandResult,
  Wakeup,
} from "../runtime/actor.ts";
import type { Clock } from "../runtime/clock.ts";
import { queueStatus, unreadableSkipped } from "../runtime/queue_status.ts";
import type { Logger } from "../runtime/log.ts";
import type {
  Delivery,
  DerivedMessage,
  QueueHead,
  QueueItem,
  RoutedEntry,
  Store,
} from "../store/store.ts";
import type { ActorControl, LogRecord, MessageRecord } from "../store/types.ts";
import { PendingWrites } from "../runtime/pending_writes.ts";
import { ToldDepth } from "../runtime/told_depth.ts";
import type { AppAcks, AppVerdict } from "./app_acks.ts";
import type { Hl7Plan } from "./hl7_routing.ts";
import { HL7_TYPE } from "./plan_transfer.ts";
import { deliveriesOf, type OffloadSettings, planStored } from "./inbound_plan.ts";
import { routeBegins } from "./config_holder.ts";

/** A message an entry sends: its record, and its payload when it was read already. */
interface Sent {
  record: MessageRecord;
  payload?: Uint8Array;
}

/** What an inbound actor is made of. */
export interface InboundActorOptions {
  id: string;
  config: Config;
  store: Store;
  clock: Clock;
  log: Logger;
  /** Wakes a destination actor. */
  notify(actorId: string): void;
  /**
   * Hands entries just routed to a destination actor in memory, so it need not read them back
   * (the supervisor's `handOver`); without it, the actor is only woken.
   */
  handOver?(actorId: string, items: readonly QueueItem[]): void;
  /** Decodes raw HL7 bytes by MSH-18. */
  decode(payload: Uint8Array): string;
  pollMs?: number;
  idleDeactivateMs?: number;
  /** Enhanced-mode application ACKs waiting for this step's verdict. */
  appAcks?: AppAcks;
  /** `mllp-in` (default) or `sftp` (files polled or uploaded). */
  kind?: string;
  /**
   * Where large messages are planned, off the engine's thread, with `fallbackCharset` decoding
   * their HL7 (as `decode` does); without it, every message is planned here (see `planStored`).
   */
  threads?: OffloadSettings;
}

/** See the module doc. */
export class InboundActor implements Actor {
  readonly id: string;
  readonly kind: string;
  readonly #options: InboundActorOptions;
  readonly #wake = new Wakeup();
  #state: ActorState = "idle";
  #control: ActorControl | undefined;
  #lastActivityAt: number | undefined;
  #lastError: string | undefined;
  #processed = 0;
  /** Bumped by a skip, so a batch read before it is not routed on. */
  #epoch = 0;
  /** Routing commits under way while the next message is parsed. */
  readonly #routes: PendingWrites;
  /** The signal `run` was given: a plan on the planning thread is dropped when it aborts. */
  #signal: AbortSignal | undefined;
  /** Woken since the last read (a message accepted, a command): read the queue. */
  #woken = true;
  /** The last read found entries: read on until one finds none. */
  #found = false;
  /** When this actor last read its queue (monotonic ms). */
  #readAt = -Infinity;
  /** When the supervisor last told the queue's depth, and whether it was more than 0. */
  readonly #told = new ToldDepth();
  #depthSaysMore = false;

  /** An inbound actor for queue `options.id`. */
  constructor(options: InboundActorOptions) {
    this.id = options.id;
    this.kind = options.kind ?? "mllp-in";
    this.#options = options;
    this.#routes = new PendingWrites({ backlog: () => options.store.commitBacklog });
  }

  /** A new message was accepted. */
  notify(): void {
    this.#woken = true;
    // A paused actor would only wake to sleep again; resuming wakes it.
    if (!this.#control?.paused) this.#wake.wake();
  }

  /**
   * The supervisor read the queue's depth in KV (each poll period): an idle actor reads its
   * queue only when it holds entries, when woken, and once in 30 periods (see `told_depth.ts`),
   * instead of every poll period (with many senders, one read a second each, through the read
   * gate the destinations' backlogs take turns at).
   */
  queueDepth(depth: number): void {
    this.#told.told(this.#options.clock.monotonic());
    this.#depthSaysMore = depth > 0;
    if (depth > 0 && !this.#control?.paused) this.#wake.wake();
  }

  /** Whether to read the queue now (`mono`: monotonic now); see {@link queueDepth}. */
  #readDue(mono: number, pollMs: number): boolean {
    if (this.#woken || this.#found || this.#depthSaysMore) return true;
    return mono - this.#readAt >= this.#told.lookEvery(mono, pollMs);
  }

  /** Processes the queue until stopped or idle long enough to deactivate. */
  async run(signal: AbortSignal): Promise<void> {
    const { store, clock } = this.#options;
    const pollMs = this.#options.pollMs ?? 1000;
    const idleLimit = this.#options.idleDeactivateMs ?? 5 * 60_000;
    this.#signal = signal;
    // A command may have arrived while the actor was starting: it wins over what KV held.
    const stored = await store.getControl(this.id);
    this.#control ??= stored;
    // The idle period on the monotonic clock: a wall-clock step neither ends nor stretches it.
    let idleSince = clock.monotonic();
    while (!signal.aborted) {
      if (this.#control.paused) {
        this.#state = "paused";
        await clock.sleep(pollMs, AbortSignal.any([signal, this.#wake.signal()]));
        continue;
      }
      const mono = clock.monotonic();
      if (!this.#readDue(mono, pollMs)) {
        this.#state = "idle";
        if (mono - idleSince >= idleLimit) return;
        await clock.sleep(
          this.#told.idleSleep(mono, pollMs, this.#readAt, idleSince + idleLimit),
          AbortSignal.any([signal, this.#wake.signal()]),
        );
        continue;
      }
      // What woke it is read now; a depth told later says whether the queue still holds more.
      this.#woken = false;
      this.#depthSaysMore = false;
      this.#readAt = mono;
      // In turn with other actors' reads (see the store's `queueReads`).
      const { heads, records, logs } = await store.queueReads.run(async () => {
        const heads = await store.peek(this.id, 64);
        // A few reads for the whole batch; only this actor changes its entries' RECEIVE logs.
        const [records, logs] = heads.length === 0 ? [[], []] : await Promise.all([
          store.getMessages(heads.map((h) => h.entry.messageId)),
          store.getLogs(heads.map((h) => h.entry.logId)),
        ]);
        return { heads, records, logs };
      });
      this.#found = heads.length > 0;
      if (heads.length === 0) {
        this.#state = "idle";
        const now = clock.monotonic();
        if (now - idleSince >= idleLimit) return;
        await clock.sleep(
          this.#told.idleSleep(now, pollMs, this.#readAt, idleSince + idleLimit),
          AbortSignal.any([signal, this.#wake.signal()]),
        );
        continue;
      }
      this.#state = "processing";
      const epoch = this.#epoch;
      try {
        for (let i = 0; i < heads.length; i++) {
          // A skip re-reads the queue: the batch read before it may hold the skipped head.
          if (signal.aborted || this.#control.paused || epoch !== this.#epoch) break;
          // Not planned (the planning thread was stopped): the batch stops at this head.
          if (!await this.#process(heads[i]!, records[i] ?? null, logs[i] ?? null)) break;
        }
      } finally {
        await this.#routes.settle();
      }
      idleSince = clock.monotonic();
    }
    this.#state = "stopped";
  }

  /**
   * Routes one head; false when it was left as it is (its plan was cancelled). Counted as a route
   * under the config it read until its commit settles: a reload moving a destination waits for
   * it (config_holder.ts, queue_moves.ts).
   */
  async #process(
    head: QueueHead,
    record: MessageRecord | null,
    receiveLog: LogRecord | null,
  ): Promise<boolean> {
    const config = this.#options.config;
    const inProgress = routeBegins(config);
    // True once the commit's settling ends the count instead of the finally below.
    let handed = false;
    try {
      const { store } = this.#options;
      if (!record) {
        await store.deadLetter(
          head,
          "engine",
          `message ${head.entry.messageId} is missing from KV`,
        );
        return true;
      }
      const integrationId = record.origin.id;
      const integration = config.integrations.find((i) => i.id === integrationId);
      // An HL7 message's payload is read to parse it; it goes on with its entries, sent as is.
      const original: Sent = { record };
      const plan = await this.#plan(config, head, original, integrationId);
      if (plan === "cancelled") {
        // Not stopping: the planning thread was closed under a running actor. Not a busy loop.
        const signal = this.#signal;
        if (signal && !signal.aborted) {
          await this.#options.clock.sleep(this.#options.pollMs ?? 1000, signal);
        }
        return false;
      }
      if (!plan) return true;
      // An entry naming a destination is one destination's share whose form could not be made.
      const only = head.entry.destinationId;
      if (only !== undefined) {
        await this.#retry(head, original, receiveLog, plan, only);
        return true;
      }
      const problems = plan.problems;
      const log = {
        integrationId,
        ...(integration ? { environment: integration.environment } : {}),
        ...(record.controlId ? { controlId: record.controlId } : {}),
        ...(plan.dataModel ? { dataModel: plan.dataModel, eventType: plan.eventType } : {}),
      };
      const { deliveries, derived } = await deliveriesOf(this.#options.store, record, plan, log);
      // A destination whose form cannot be made gets its SEND log all the same: its share comes
      // back to this queue, where it is dead-lettered with the reason and can be reprocessed.
      for (const f of plan.failures) {
        deliveries.push({
          queue: this.id,
          destinationId: f.destination.id,
          messageId: record.id,
          originalId: record.id,
          log,
        });
      }
      const known = receiveLog ? { log: receiveLog, derived } : { derived };
      const model = plan.dataModel ? { dataModel: plan.dataModel, eventType: plan.eventType } : {};
      const routed = deliveries.length > 0
        ? store.routeEntries(head, deliveries, {
          status: "SUCCEEDED",
          ...model,
          ...(problems.length ? { reason: problems.join("; ") } : {}),
        }, known)
        : store.routeEntries(head, [], {
          status: "FILTERED",
          ...model,
          reason: "no subscription wants this message",
        }, known);
      // Nothing could be delivered at all: the sender's application ACK says why.
      const failed = plan.routes.length === 0 ? plan.failures[0] : undefined;
      const verdict: AppVerdict = failed
        ? {
          code: "AE",
          text: problems.join("; "),
          errorCode: failed.fault?.condition ?? "207",
          ...(failed.fault?.location ? { location: failed.fault.location } : {}),
        }
        : { code: "AA" };
      // The next message is read and parsed while this one commits; see PendingWrites.
      handed = true;
      await this.#routes.add(
        routed.then((entries) => {
          inProgress.end();
          this.#routed(entries, original, derived, deliveries, verdict);
        }, (error) => {
          inProgress.end();
          throw error;
        }),
      );
      return true;
    } finally {
      if (!handed) inProgress.end();
    }
  }

  /**
   * One destination's share (its SEND log is the head's): dead-lettered with the reason while
   * its form cannot be made; once it can (after a reprocess), handed to the destination's queue
   * under a new SEND log.
   */
  async #retry(
    head: QueueHead,
    original: Sent,
    sendLog: LogRecord | null,
    plan: Hl7Plan,
    destinationId: string,
  ): Promise<void> {
    const { store, log } = this.#options;
    const { record } = original;
    // Shares are taken in order: earlier commits first.
    await this.#routes.settle();
    const failure = plan.failures.find((f) => f.destination.id === destinationId);
    if (failure) {
      if (await store.deadLetter(head, "engine", failure.reason)) {
        this.#lastError = failure.reason;
        log.warn("inbound.destination-failed", {
          actor: this.id,
          messageId: record.id,
          destination: destinationId,
          reason: failure.reason,
        });
      }
      return;
    }
    const known = sendLog ? { log: sendLog } : {};
    const route = plan.routes.find((r) => r.destination.id === destinationId);
    if (!route) {
      await store.route(head, [], {
        status: "FILTERED",
        reason: `no subscription sends this message to ${destinationId} any more`,
      }, known);
      return;
    }
    const { deliveries: [delivery], derived } = await deliveriesOf(this.#options.store, record, {
      ...plan,
      routes: [route],
    }, {
      ...(sendLog?.integrationId ? { integrationId: sendLog.integrationId } : {}),
      ...(sendLog?.environment ? { environment: sendLog.environment } : {}),
      ...(record.controlId ? { controlId: record.controlId } : {}),
      ...(plan.dataModel ? { dataModel: plan.dataModel, eventType: plan.eventType } : {}),
    });
    const entries = await store.routeEntries(head, [delivery!], {
      status: "SUCCEEDED",
      reason: `made on reprocess; a new SEND log carries the delivery to ${destinationId}`,
    }, { ...known, derived });
    for (const entry of entries ?? []) this.#handOver(entry, original, derived);
  }

  /**
   * Plans a stored message (see {@link planStored}). Undefined when it failed (it is then
   * dead-lettered with the reason); `cancelled` when the planning thread was stopped meanwhile.
   */
  async #plan(
    config: Config,
    head: QueueHead,
    original: Sent,
    integrationId: string,
  ): Promise<Hl7Plan | "cancelled" | undefined> {
    const { store, log, threads } = this.#options;
    const { record } = original;
    const hl7 = record.contentType === HL7_TYPE;
    let payload: Uint8Array | undefined;
    const outcome = await planStored({
      config,
      record,
      integrationId,
      payload: async () => {
        payload ??= await store.getPayload(record);
        // An HL7 message's payload goes on with its entries, to be sent as is.
        if (hl7) original.payload = payload;
        return payload;
      },
      decode: this.#options.decode,
      ...(threads ? { threads } : {}),
      ...(this.#signal ? { signal: this.#signal } : {}),
    });
    if (outcome === "cancelled" || outcome.ok) {
      return outcome === "cancelled" ? outcome : outcome.plan;
    }
    const reason = outcome.reason;
    await store.deadLetter(head, "engine", reason);
    // The sender of an HL7 message waits for an application ACK that says why (enhanced mode).
    if (hl7) {
      const fault = outcome.parseError ? parseErrorCondition(outcome.parseError) : undefined;
      this.#options.appAcks?.settle(record.id, {
        code: "AE",
        text: reason,
        errorCode: fault?.code ?? "207",
        ...(fault?.location ? { location: fault.location } : {}),
      });
    }
    this.#lastError = reason;
    log.warn("inbound.failed", { actor: this.id, messageId: record.id, reason });
    return undefined;
  }

  /**
   * Gives a routed entry to its destination's actor in memory, with the record of the message it
   * sends (the original or a translation stored by the same commit); wakes the actor otherwise.
   */
  #handOver(entry: RoutedEntry, original: Sent, derived: readonly DerivedMessage[]): void {
    const { handOver, notify } = this.#options;
    const id = entry.head.entry.messageId;
    // With its payload, the entry may be sent ahead by a socket that runs ahead (MLLP).
    const sent = id === original.record.id ? original : derived.find((d) => d.id === id);
    if (handOver && sent) {
      const payload = sent.payload ? { payload: sent.payload } : {};
      handOver(entry.head.queue, [{ ...entry, record: sent.record, ...payload }]);
    } else notify(entry.head.queue);
  }

  #routed(
    entries: RoutedEntry[] | undefined,
    original: Sent,
    derived: readonly DerivedMessage[],
    deliveries: Delivery[],
    verdict: AppVerdict,
  ): void {
    if (!entries) return; // taken meanwhile (an operator skip): nothing was written
    const messageId = original.record.id;
    this.#options.appAcks?.settle(messageId, verdict, deliveries.map((d) => d.destinationId));
    this.#processed++;
    this.#lastActivityAt = this.#options.clock.now();
    for (const entry of entries) this.#handOver(entry, original, derived);
    this.#options.log.debug("inbound.routed", {
      actor: this.id,
      messageId,
      to: deliveries.map((d) => d.destinationId),
    });
  }

  /** Pause, resume, retry (no-op here: nothing waits) or skip the head. */
  async command(command: ActorCommand, by: string, reason: string): Promise<CommandResult> {
    const { store, clock } = this.#options;
    if (command === "pause" || command === "resume") {
      this.#control = { paused: command === "pause", by, reason, at: clock.now() };
      await store.setControl(this.id, this.#control);
      this.#woken = true;
      this.#wake.wake();
      return { ok: true, message: command === "pause" ? "paused" : "resumed" };
    }
    if (command === "retry") return { ok: false, message: "an inbound actor has no retry waiting" };
    // Messages already routed but not yet committed are not the head to skip.
    await this.#routes.settle();
    // A look, not a read: an unreadable head is the one skipped (set aside), not the next.
    const head = await store.look(this.id);
    if (!head) return { ok: false, message: "the queue is empty" };
    const moved = await store.deadLetter(head, by, reason);
    if (moved) this.#epoch++;
    if (moved && head.unreadable) return { ok: true, message: unreadableSkipped(head) };
    return moved
      ? { ok: true, message: `message ${head.entry.messageId} moved to the dead-letter list` }
      : { ok: false, message: "the head changed meanwhile; look again" };
  }

  /** A snapshot for the admin endpoint. */
  async status(): Promise<ActorStatus> {
    const { store, clock } = this.#options;
    const { status } = await queueStatus({
      id: this.id,
      kind: this.kind,
      state: this.#state,
      store,
      now: clock.now(),
      mono: clock.monotonic(),
      ...(this.#control ? { control: this.#control } : {}),
    });
    if (this.#lastActivityAt !== undefined) status.lastActivityAt = this.#lastActivityAt;
    if (this.#lastError !== undefined) status.lastError = this.#lastError;
    status.detail = { processed: this.#processed };
    return status;
  }
}
