/**
 * Queue entries the engine did not write in the shape it reads, and queues moved between
 * destinations' addresses.
 *
 * An entry written by another version of the engine, or damaged, must never wedge its queue:
 * {@link unreadableEntry} says why one cannot be read, and {@link setAsideEntry} takes it out of
 * the queue into the dead-letter list (with its raw value, clipped) in one atomic step, so the
 * queue goes on behind it. {@link moveQueueEntries} moves a queue's entries (same keys, same
 * order) to the queue of the address their destination now has (a config reload moved it).
 * @module
 */

import type { Write, WriteOutcome } from "./group_commit.ts";
import { keys } from "./keys.ts";
import { RECORD_BYTES } from "./records.ts";
import type { LogRecord, QueueEntry } from "./types.ts";

/** How much of an unreadable entry's raw value is kept (dead-letter list, log line). */
export const UNREADABLE_CLIP_CHARS = 500;

/** Who moved an unreadable entry aside (the dead-letter list's `by`). */
export const UNREADABLE_BY = "engine";

/** Commits one write (the store's group committer). */
export type Commit = (write: Write) => Promise<WriteOutcome>;

/** Why the entry at `key` of `queue` cannot be read, or undefined when it can. */
export function unreadableEntry(
  queue: string,
  key: Deno.KvKey,
  value: unknown,
): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `not a queue entry (${value === null ? "null" : typeof value})`;
  }
  const e = value as Record<string, unknown>;
  for (const field of ["seq", "messageId", "logId"]) {
    if (typeof e[field] !== "string" || e[field] === "") return `no ${field}`;
  }
  if (typeof e.enqueuedAt !== "number") return "no enqueuedAt";
  for (const field of ["destinationId", "originalId"]) {
    if (e[field] !== undefined && typeof e[field] !== "string") return `${field} is not a string`;
  }
  // Completing or dead-lettering the entry writes at the key its seq names: it must be this one.
  const named = keys.queueEntry(queue, e.seq as string);
  if (key.length !== named.length || key.some((p, i) => p !== named[i])) {
    return "its seq does not name its key";
  }
  return undefined;
}

/** `value` as text for people: JSON where it can be, clipped. */
export function clipRaw(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v) => typeof v === "bigint" ? `${v}n` : v) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length <= UNREADABLE_CLIP_CHARS
    ? text
    : `${text.slice(0, UNREADABLE_CLIP_CHARS)}… (${text.length} characters)`;
}

/**
 * What can be read of an unreadable entry at `key` as a {@link QueueEntry}: its seq (the key's
 * last part), its message and log ids (empty when not text) and when it was queued (`now` when
 * not a number).
 */
export function readableParts(key: Deno.KvKey, value: unknown, now: number): QueueEntry {
  const last = key[key.length - 1]!;
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const text = (x: unknown) => typeof x === "string" ? x : "";
  return {
    seq: typeof last === "string" ? last : String(last),
    messageId: text(v.messageId),
    logId: text(v.logId),
    enqueuedAt: typeof v.enqueuedAt === "number" ? v.enqueuedAt : now,
  };
}

/**
 * Takes the unreadable entry (`key`, `versionstamp`) out of `queue` into its dead-letter list, in
 * one atomic step: a record with `by` {@link UNREADABLE_BY} (or, `skipped` by an operator, who),
 * the `reason` (with the operator's) and the raw value clipped (`unreadable`), under the same
 * last key part. False if the entry changed or went meanwhile (nothing written).
 */
export async function setAsideEntry(
  commit: Commit,
  queue: string,
  entry: { key: Deno.KvKey; value: unknown; versionstamp: string },
  reason: string,
  now: number,
  skipped?: { by: string; reason: string },
): Promise<boolean> {
  const last = entry.key[entry.key.length - 1]!;
  const record = {
    ...readableParts(entry.key, entry.value, now),
    by: skipped ? skipped.by : UNREADABLE_BY,
    reason: `unreadable queue entry: ${reason}` + (skipped ? ` (skipped: ${skipped.reason})` : ""),
    unreadable: clipRaw(entry.value),
    at: now,
  };
  const outcome = await commit({
    checks: [{ key: entry.key, versionstamp: entry.versionstamp }],
    sets: [{ key: ["dlq", queue, last], value: record }],
    deletes: [entry.key],
    sums: [{ key: keys.queueDepth(queue), n: -1n }],
    bytes: RECORD_BYTES * 2 + UNREADABLE_CLIP_CHARS * 4,
  });
  return outcome.ok;
}

/** What {@link moveQueueEntries} did. */
export interface MoveResult {
  /** Entries moved, by the queue they went to. */
  moved: Map<string, number>;
  /** Entries left in the queue because they have nowhere to go (`targetOf` gave none). */
  left: number;
  /** Unreadable entries found on the way (each handed to `unreadable`). */
  unreadable: number;
}

/** Entries read from the queue at once while moving it. */
const MOVE_PAGE = 200;
/** Passes over the queue (an entry another writer changed meanwhile is moved on the next). */
const MOVE_PASSES = 5;

/**
 * Moves each entry of queue `from` for which `targetOf` names another queue to that queue, under
 * the same key (so queue order is kept: entries are ordered by seq), with its SEND log's
 * `actorId` set to the new queue — one atomic step per entry, checked against the entry and its
 * log, so a move run twice (two processes) moves each entry once. Unreadable entries are handed
 * to `unreadable` (which sets them aside) instead.
 */
export async function moveQueueEntries(
  kv: Deno.Kv,
  commit: Commit,
  from: string,
  targetOf: (entry: QueueEntry) => string | undefined,
  unreadable: (entry: Deno.KvEntry<unknown>, reason: string) => Promise<unknown>,
): Promise<MoveResult> {
  const result: MoveResult = { moved: new Map(), left: 0, unreadable: 0 };
  for (let pass = 0; pass < MOVE_PASSES; pass++) {
    let retry = false;
    let left = 0;
    let start: Deno.KvKey | undefined;
    for (;;) {
      const page: Deno.KvEntry<unknown>[] = [];
      const selector = start
        ? { prefix: keys.queuePrefix(from), start }
        : { prefix: keys.queuePrefix(from) };
      for await (const e of kv.list(selector, { limit: MOVE_PAGE + (start ? 1 : 0) })) {
        if (start && sameKey(e.key, start)) continue;
        page.push(e);
      }
      if (page.length === 0) break;
      start = page.at(-1)!.key;
      const moving: { e: Deno.KvEntry<QueueEntry>; to: string }[] = [];
      for (const e of page) {
        const why = unreadableEntry(from, e.key, e.value);
        if (why) {
          result.unreadable++;
          await unreadable(e, why);
          continue;
        }
        const entry = e as Deno.KvEntry<QueueEntry>;
        const to = targetOf(entry.value);
        if (to === undefined || to === from) left++;
        else moving.push({ e: entry, to });
      }
      const outcomes = await Promise.all(
        moving.map(({ e, to }) => moveOne(kv, commit, from, e, to)),
      );
      outcomes.forEach((ok, i) => {
        if (!ok) return void (retry = true);
        const to = moving[i]!.to;
        result.moved.set(to, (result.moved.get(to) ?? 0) + 1);
      });
      if (page.length < MOVE_PAGE) break;
    }
    result.left = left;
    if (!retry) break;
  }
  return result;
}

/** Moves one entry (see {@link moveQueueEntries}); false if it or its log changed meanwhile. */
async function moveOne(
  kv: Deno.Kv,
  commit: Commit,
  from: string,
  e: Deno.KvEntry<QueueEntry>,
  to: string,
): Promise<boolean> {
  const log = await kv.get<LogRecord>(keys.log(e.value.logId));
  const sets: Write["sets"] = [{ key: keys.queueEntry(to, e.value.seq), value: e.value }];
  if (log.value) sets.push({ key: log.key, value: { ...log.value, actorId: to } });
  const outcome = await commit({
    checks: [
      { key: e.key, versionstamp: e.versionstamp },
      { key: log.key, versionstamp: log.versionstamp },
    ],
    sets,
    deletes: [e.key],
    sums: [{ key: keys.queueDepth(from), n: -1n }, { key: keys.queueDepth(to), n: 1n }],
    bytes: RECORD_BYTES * 3,
  });
  return outcome.ok;
}

function sameKey(a: Deno.KvKey, b: Deno.KvKey): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}
