/**
 * Reading a queue: its entries in order as its actor reads them (an unreadable one set aside on
 * the way, so it never wedges the queue), its head as an operator looks at it (nothing set aside:
 * an unreadable head is shown as such), its depth, and which queues hold entries.
 * @module
 */

import { keys } from "./keys.ts";
import { clipRaw, readableParts, setAsideEntry, unreadableEntry } from "./queue_repair.ts";
import type { QueueHead, QueueLook } from "./requests.ts";
import type { StoreContext } from "./store_context.ts";
import type { QueueEntry } from "./types.ts";

/** Times a queue is listed again after unreadable entries were set aside from it. */
const PEEK_PASSES = 4;

/**
 * The first `limit` entries of a queue, in order (those after the seq `after`, if given), as its
 * actor reads them: an entry that cannot be read (another version's, or damaged) is taken out of
 * the queue into its dead-letter list on the way, with an ERROR `queue.unreadable-entry` (see
 * {@link setAside}).
 */
export async function peekQueue(
  ctx: StoreContext,
  queue: string,
  limit: number,
  after: string | undefined,
): Promise<QueueHead[]> {
  // After a seq: from that entry's key (inclusive), skipping it.
  const selector = after === undefined
    ? { prefix: keys.queuePrefix(queue) }
    : { prefix: keys.queuePrefix(queue), start: keys.queueEntry(queue, after) };
  for (let pass = 0;; pass++) {
    const out: QueueHead[] = [];
    let setAsideNow = 0;
    const iter = ctx.kv.list<unknown>(selector, {
      limit: after === undefined ? limit : limit + 1,
    });
    for await (const e of iter) {
      const why = unreadableEntry(queue, e.key, e.value);
      if (why) {
        if (pass < PEEK_PASSES && await setAside(ctx, queue, e, why)) setAsideNow++;
        continue;
      }
      const entry = e.value as QueueEntry;
      if (after !== undefined && entry.seq <= after) continue;
      if (out.length < limit) out.push({ queue, entry, versionstamp: e.versionstamp });
    }
    // What was set aside made room: list again for the entries behind it.
    if (setAsideNow === 0 || pass >= PEEK_PASSES) return out;
  }
}

/**
 * The first entry of `queue` as an operator looks at it, or undefined when the queue is empty.
 * Nothing is set aside: an unreadable entry is given back flagged (see {@link QueueLook}), for
 * the listing to show and a skip to move aside — not the entry behind it.
 */
export async function lookAtHead(
  ctx: StoreContext,
  queue: string,
): Promise<QueueLook | undefined> {
  for await (const e of ctx.kv.list<unknown>({ prefix: keys.queuePrefix(queue) }, { limit: 1 })) {
    const why = unreadableEntry(queue, e.key, e.value);
    if (!why) return { queue, entry: e.value as QueueEntry, versionstamp: e.versionstamp };
    return {
      queue,
      entry: readableParts(e.key, e.value, ctx.now()),
      versionstamp: e.versionstamp,
      unreadable: { reason: why, key: e.key, value: e.value },
    };
  }
  return undefined;
}

/**
 * Takes an unreadable entry of `queue` out into its dead-letter list and logs an ERROR
 * `queue.unreadable-entry` naming the key, why, and the raw value (clipped) — and who, when an
 * operator `skipped` it. False if the entry changed or went meanwhile.
 */
export async function setAside(
  ctx: StoreContext,
  queue: string,
  e: { key: Deno.KvKey; value: unknown; versionstamp: string },
  why: string,
  skipped?: { by: string; reason: string },
): Promise<boolean> {
  const ok = await setAsideEntry(
    (w) => ctx.committer.commit(w),
    queue,
    e,
    why,
    ctx.now(),
    skipped,
  );
  if (ok) {
    ctx.self.log?.error("queue.unreadable-entry", {
      queue,
      key: clipRaw(e.key),
      reason: why,
      value: clipRaw(e.value),
      movedTo: "dead-letters",
      ...(skipped ? { by: skipped.by } : {}),
    });
  }
  return ok;
}

/**
 * Sets aside the unreadable entry an operator's `look` found ({@link lookAtHead}), recording who
 * skipped it and why. False if the entry changed or went meanwhile.
 */
export function setAsideLook(
  ctx: StoreContext,
  look: QueueLook,
  by: string,
  reason: string,
): Promise<boolean> {
  const { key, value, reason: why } = look.unreadable!;
  return setAside(ctx, look.queue, { key, value, versionstamp: look.versionstamp }, why, {
    by,
    reason,
  });
}

/** How many entries a queue holds. */
export async function queueDepth(kv: Deno.Kv, queue: string): Promise<number> {
  const v = await kv.get<Deno.KvU64>(keys.queueDepth(queue));
  return v.value ? Number(v.value.value) : 0;
}

/** Every queue that holds entries, with its depth: what must be restored at start. */
export async function nonEmptyQueues(kv: Deno.Kv): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const e of kv.list<Deno.KvU64>({ prefix: keys.queueDepthPrefix })) {
    const n = Number(e.value.value);
    if (n > 0 && n < 2 ** 53 && typeof e.key[1] === "string") out.set(e.key[1], n);
  }
  return out;
}
