/**
 * The dead-letter lists: a queue's entries moved aside (skipped by an operator, refused by their
 * destination, unparsable or unreadable), listed for operators, and one sent back to the tail of
 * the queue it was taken from.
 * @module
 */

import { keys } from "./keys.ts";
import { readLog } from "./log_updates.ts";
import { RECORD_BYTES } from "./records.ts";
import type { StoreContext } from "./store_context.ts";
import type { LogRecord, QueueEntry } from "./types.ts";

/**
 * A dead-lettered queue entry: who moved it aside and why, and when (`at`, ms; entries moved
 * before it was kept have none). `lastError`: the destination's own words on the message's last
 * failed delivery attempt when it was moved aside (an HL7 NAK's code, text and error code, an
 * HTTPS status and body excerpt, a connection error), at most {@link LAST_ERROR_CHARS}
 * characters; absent when no attempt had failed, and on entries moved before it was kept.
 */
export type DeadLetter = QueueEntry & {
  by: string;
  reason: string;
  at?: number;
  lastError?: string;
};

/** Most characters of a delivery error kept on a dead letter (`lastError`). */
export const LAST_ERROR_CHARS = 500;

/**
 * The last delivery error of `log` for a dead letter: the reason of its newest attempt when that
 * attempt failed and came after the message's last reprocess (an error from before it was sent
 * back to its queue says nothing of this time), clipped to {@link LAST_ERROR_CHARS}.
 */
export function lastErrorOf(log: LogRecord | null): string | undefined {
  const newest = log?.attempts.at(-1);
  if (!newest || newest.outcome !== "FAILED" || !newest.reason) return undefined;
  if (log!.reprocessed && newest.at < log!.reprocessed.at) return undefined;
  const text = newest.reason;
  return text.length <= LAST_ERROR_CHARS
    ? text
    : `${text.slice(0, LAST_ERROR_CHARS)}… (${text.length} characters)`;
}

/** Up to `limit` entries moved aside from `queue`, oldest first. */
export async function listDeadLetters(
  kv: Deno.Kv,
  queue: string,
  limit: number,
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const iter = kv.list<DeadLetter>({
    prefix: keys.deadLetterPrefix(queue),
  }, { limit });
  for await (const e of iter) out.push(e.value);
  return out;
}

/**
 * Sends a dead-lettered message back to the tail of the queue it was taken from (an inbound
 * queue to be parsed and routed again, or a destination's queue to be delivered again), with
 * its log PENDING again and who asked and why recorded. Refused with a reason when the log is
 * not in a dead-letter list.
 */
export async function reprocess(
  ctx: StoreContext,
  logId: string,
  by: string,
  reason: string,
): Promise<{ ok: true; queue: string; log: LogRecord } | { ok: false; error: string }> {
  const current = await readLog(ctx.kv, logId);
  if (!current) return { ok: false, error: `no log ${logId}` };
  const dl = current.deadLetter;
  if (current.status !== "FAILED" || !dl) {
    return {
      ok: false,
      error: `log ${logId} is ${current.status}, not in a dead-letter list: nothing to reprocess`,
    };
  }
  const queue = dl.queue ?? current.actorId;
  if (!queue) return { ok: false, error: `log ${logId} names no queue` };
  let found: Deno.KvEntry<QueueEntry> | undefined;
  if (dl.seq) {
    const e = await ctx.kv.get<QueueEntry>(keys.deadLetter(queue, dl.seq));
    if (e.versionstamp !== null) found = e as Deno.KvEntry<QueueEntry>;
  } else {
    // Dead-lettered before the log kept its place: look for it.
    for await (const e of ctx.kv.list<QueueEntry>({ prefix: keys.deadLetterPrefix(queue) })) {
      if (e.value.logId === logId) {
        found = e;
        break;
      }
    }
  }
  if (!found) return { ok: false, error: `log ${logId}: its dead-letter entry is gone` };
  const now = ctx.now();
  const seq = ctx.self.newId();
  // The queue entry alone goes back: what the dead-letter list added stays behind with it.
  const { by: _by, reason: _reason, at: _at, lastError: _lastError, ...entryFields } = found
    .value as Partial<DeadLetter> & QueueEntry;
  const entry: QueueEntry = { ...entryFields, seq, enqueuedAt: now };
  const { deadLetter: _dl, ...rest } = current;
  const log: LogRecord = {
    ...rest,
    status: "PENDING",
    reason: `reprocess requested by ${by}${reason ? `: ${reason}` : ""}`,
    updatedAt: now,
    reprocessed: { by, reason, at: now, count: (current.reprocessed?.count ?? 0) + 1 },
  };
  const outcome = await ctx.committer.commit({
    checks: [{ key: found.key, versionstamp: found.versionstamp }],
    sets: [
      { key: keys.queueEntry(queue, seq), value: entry },
      { key: keys.log(logId), value: log },
    ],
    deletes: [found.key],
    sums: [{ key: keys.queueDepth(queue), n: 1n }],
    bytes: RECORD_BYTES * 3,
  });
  return outcome.ok
    ? { ok: true, queue, log }
    : { ok: false, error: `log ${logId} changed meanwhile; look again` };
}
