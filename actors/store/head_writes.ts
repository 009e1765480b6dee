/**
 * The writes that take a queue's head out, each one atomic step checked against the head as read
 * (and fenced by the lease of the queue's actor): routing it (the inbound step: SEND entries
 * appended to the destinations' queues, the RECEIVE log closed), and finishing it (completed, or
 * moved to the dead-letter list) together with its log.
 * @module
 */

import { addRows, appendDeliveries } from "./deliveries.ts";
import type { Write } from "./group_commit.ts";
import { keys } from "./keys.ts";
import { FencedError } from "./leases.ts";
import { MAX_LOG_RETRIES, readLog } from "./log_updates.ts";
import { applyLogUpdate, type LogUpdate, RECORD_BYTES } from "./records.ts";
import type { Delivery, DerivedMessage, QueueHead, RoutedEntry } from "./requests.ts";
import { fenced, type StoreContext } from "./store_context.ts";
import type { Attempt, LogRecord, QueueEntry } from "./types.ts";
import { type DeadLetter, lastErrorOf } from "./dead_letters.ts";

/**
 * In one atomic operation: removes `head` from its queue, appends an entry to each delivery's
 * queue with a PENDING SEND log, and closes the RECEIVE log (`options.log`, when the caller read
 * it already). Gives back each delivery's queue entry as committed (in the order of
 * `deliveries`); undefined if the head was already taken (nothing was written).
 */
export async function routeHead(
  ctx: StoreContext,
  head: QueueHead,
  deliveries: Delivery[],
  receive: LogUpdate,
  options: { log?: LogRecord; derived?: readonly DerivedMessage[] },
): Promise<RoutedEntry[] | undefined> {
  const now = ctx.now();
  const write: Write = {
    checks: [{
      key: keys.queueEntry(head.queue, head.entry.seq),
      versionstamp: head.versionstamp,
    }, ...fenced(ctx, head.queue)],
    sets: [],
    deletes: [keys.queueEntry(head.queue, head.entry.seq)],
    sums: [{ key: keys.queueDepth(head.queue), n: -1n }],
    bytes: RECORD_BYTES * 2,
  };
  // The translations the deliveries send are stored by this commit too: never one without it.
  for (const d of options.derived ?? []) addRows(write, d);
  const appended = appendDeliveries(ctx.self, write, deliveries, now);
  // With the log known, nothing is awaited before the commit is queued: routes issued one after
  // the other commit in that order, so the queue entries they append keep their order.
  // A RECEIVE log has no other writer while its message is queued: no check on it is needed.
  const current = options.log ?? (await readLog(ctx.kv, head.entry.logId));
  const log = current ? applyLogUpdate(current, receive, now) : null;
  if (log) write.sets!.push({ key: keys.log(log.id), value: log });
  const outcome = await ctx.committer.commit(write);
  if (!outcome.ok) return undefined;
  return appended.map((a) => ({
    head: { queue: a.queue, entry: a.entry, versionstamp: outcome.versionstamp },
    log: a.log,
  }));
}

/**
 * Removes `head` from its queue and writes its log with `update` applied (`known`, when the caller
 * has it; else read, and checked), with `extra` (the dead-letter record, made from the log as
 * written) in the same atomic step.
 * False if the head was already gone; a {@link FencedError} if this node's lease of the queue is
 * not the one in KV (or the log kept changing).
 */
export async function finishHead(
  ctx: StoreContext,
  head: QueueHead,
  update: LogUpdate,
  extra?: (log: LogRecord | null) => { key: Deno.KvKey; value: unknown },
  known?: LogRecord,
): Promise<boolean> {
  const entryKey = keys.queueEntry(head.queue, head.entry.seq);
  for (let attempt = 1;; attempt++) {
    // A log read here is checked too: another writer (a recorded attempt) may change it
    // meanwhile, and writing the stale copy back would lose that change.
    const read = known ? undefined : await ctx.kv.get<LogRecord>(keys.log(head.entry.logId));
    const base = known ?? read?.value ?? null;
    const log = base ? applyLogUpdate(base, update, ctx.now()) : null;
    const outcome = await ctx.committer.commit({
      checks: [
        { key: entryKey, versionstamp: head.versionstamp },
        ...(read ? [{ key: read.key, versionstamp: read.versionstamp }] : []),
        ...fenced(ctx, head.queue),
      ],
      sets: [
        ...(log ? [{ key: keys.log(log.id), value: log }] : []),
        ...(extra ? [extra(log)] : []),
      ],
      deletes: [entryKey],
      sums: [{ key: keys.queueDepth(head.queue), n: -1n }],
      bytes: RECORD_BYTES * 3,
    });
    if (outcome.ok) return true;
    // Refused: the head is gone (someone else finished it), its log changed (read again), or
    // the lease check failed. Only the first means the entry is done with: the others are tried
    // again, with the log and the lease as they are now. Taken as gone, a head still queued
    // would be read back and sent again.
    const entry = await ctx.kv.get(entryKey);
    if (entry.versionstamp !== head.versionstamp) return false;
    if (attempt === MAX_LOG_RETRIES) throw new FencedError(head.queue, head.entry.seq, attempt);
  }
}

/** Delivery succeeded: `head` removed, its log SUCCEEDED with `attempt` (see {@link finishHead}). */
export function completeHead(
  ctx: StoreContext,
  head: QueueHead,
  attempt: Omit<Attempt, "n">,
  known: LogRecord | undefined,
): Promise<boolean> {
  return finishHead(ctx, head, { status: "SUCCEEDED", attempt }, undefined, known);
}

/**
 * `head` moved to its queue's dead-letter list (saying who and why), its log FAILED with where it
 * went (see {@link finishHead}).
 */
export function deadLetterHead(
  ctx: StoreContext,
  head: QueueHead,
  by: string,
  reason: string,
  attempt: Omit<Attempt, "n"> | undefined,
): Promise<boolean> {
  const key = keys.deadLetter(head.queue, head.entry.seq);
  return finishHead(ctx, head, {
    status: "FAILED",
    reason,
    deadLetter: { by, reason, queue: head.queue, seq: head.entry.seq },
    ...(attempt ? { attempt } : {}),
  }, (log) => {
    // The peer's own words from the log as written (this failure's when `attempt` is one): the
    // operator's reason says why it was moved aside, not what the destination answered.
    const lastError = lastErrorOf(log);
    const value: DeadLetter = {
      ...entryOf(head.entry),
      by,
      reason,
      // When, too: the entry's own time is when it was queued, not when it was moved aside.
      at: ctx.now(),
      ...(lastError !== undefined ? { lastError } : {}),
    };
    return { key, value };
  });
}

/** The queue entry's own fields (a reprocessed entry of an older version may carry others). */
function entryOf(entry: QueueEntry): QueueEntry {
  const { by: _by, reason: _reason, at: _at, lastError: _lastError, ...own } = entry as
    & QueueEntry
    & Partial<DeadLetter>;
  return own;
}
