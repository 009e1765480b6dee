/**
 * Messages this process delivered whose completion (log SUCCEEDED, queue entry removed) has not
 * committed yet, per queue. A delivery actor's completions commit in the background; when its
 * activation ends before they do (stopped, handed over, restarted while KV cannot commit), the
 * next activation in this process finds them here, completes them, and does not send them again.
 * Only a crash of the process loses them: those are the resends DESIGN.md bounds.
 * @module
 */

import type { Attempt, LogRecord } from "./types.ts";
import type { QueueHead } from "./requests.ts";

/** A delivered message still to be completed. */
export interface OwedCompletion {
  head: QueueHead;
  /** The successful attempt, as it is to be recorded. */
  attempt: Omit<Attempt, "n">;
  /** The log as known when it was sent, if any (else read from KV when completing). */
  log?: LogRecord;
}

/**
 * See the module doc.
 *
 * @example
 * ```ts
 * const owed = new OwedCompletions();
 * owed.add(head, { at: Date.now(), outcome: "SUCCEEDED", reason: "AA" });
 * // … its completion committed:
 * owed.settled(head.queue, head.entry.seq);
 * ```
 */
export class OwedCompletions {
  readonly #byQueue = new Map<string, Map<string, OwedCompletion>>();

  /** `head` was delivered with `attempt`; its completion is under way. */
  add(head: QueueHead, attempt: Omit<Attempt, "n">, log?: LogRecord): void {
    let owed = this.#byQueue.get(head.queue);
    if (!owed) this.#byQueue.set(head.queue, owed = new Map());
    owed.set(head.entry.seq, log ? { head, attempt, log } : { head, attempt });
  }

  /** The completion of `seq` committed, or found the entry gone: nothing is owed for it. */
  settled(queue: string, seq: string): void {
    // A queue's map stays when empty: under load it would empty and fill again with each message.
    this.#byQueue.get(queue)?.delete(seq);
  }

  /** What is owed for `queue`, oldest first. */
  of(queue: string): OwedCompletion[] {
    const owed = this.#byQueue.get(queue);
    if (!owed) return [];
    return [...owed.values()].sort((a, b) =>
      a.head.entry.seq < b.head.entry.seq ? -1 : a.head.entry.seq > b.head.entry.seq ? 1 : 0
    );
  }

  /** Completions owed, all queues together (for status and tests). */
  get size(): number {
    let n = 0;
    for (const owed of this.#byQueue.values()) n += owed.size;
    return n;
  }
}
