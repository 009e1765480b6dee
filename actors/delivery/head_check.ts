/**
 * Scale-out: whether the KV queue holds, before the entry a delivery actor is about to send, an
 * entry the actor does not know of.
 *
 * A queue entry's seq is made when its message is taken in, not when it commits; with several
 * processes committing to one queue, an entry of another process may land after the actor has
 * moved past its seq. Such an entry is older than what the actor holds as its head, and it must go
 * first: its sender waited for its ACK (given after the commit) before sending its next message,
 * so once that next message is visible in KV, this one is committed too. Looking at the KV
 * queue's true head just before each send therefore keeps each sender's order whichever process
 * took its messages in.
 * @module
 */

import type { Store } from "../store/store.ts";

/** What the check asks of the actor's queue in memory. */
export interface KnownEntries {
  /** Whether the entry is waiting, in flight or completing. */
  knows(seq: string): boolean;
  /** Whether the entry was forgotten (gone from KV) since the actor's current read began. */
  forgotten(seq: string): boolean;
}

/**
 * True when KV lists, before `seq`, an entry of `queue` that `known` does not know. Every entry
 * older than the head that the actor knows is one still completing (delivered, its removal not
 * committed yet), so listing `completing + 1` entries from the head finds the first unknown one
 * if there is one. One small KV list; nothing in memory changes.
 */
export async function olderInKv(
  store: Store,
  queue: string,
  seq: string,
  known: KnownEntries,
  completing: number,
): Promise<boolean> {
  const listed = await store.peek(queue, completing + 1);
  for (const head of listed) {
    const s = head.entry.seq;
    if (s >= seq) return false;
    if (!known.knows(s) && !known.forgotten(s)) return true;
  }
  return false;
}
