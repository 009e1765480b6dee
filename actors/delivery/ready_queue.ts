/**
 * A delivery actor's queue in memory: the entries of its KV queue it knows of, in queue order,
 * with what sending them needs (record, log, payload). The KV queue stays the truth; this is
 * what spares the actor reading back what the same process has just written.
 *
 * Entries come in two ways: handed over by the writer once committed ({@link ReadyQueue.take}),
 * or read from KV ({@link ReadyQueue.merge}) — at activation, after a notify from a writer that
 * does not hand over, on a periodic scan for other processes' writes, and whenever memory is
 * full. `cursor` and `cold` keep the two consistent: every KV entry up to `cursor` is known
 * (waiting here, in flight, or completing), and while `cold` KV may hold entries after `cursor`
 * that are not, so nothing after `cursor` is sent before they are read.
 * @module
 */

import type { QueueHead, QueueItem } from "../store/requests.ts";

/** Bounds of what is held in memory; past them handed-over entries stay in KV only. */
export interface ReadyQueueLimits {
  /** Entries held, default 1,024: always this queue's own, whatever the others hold. */
  maxItems?: number;
  /** Payload bytes held, default 8 MiB: likewise. */
  maxBytes?: number;
  /** Room beyond those, shared with the process's other queues (none when absent). */
  budget?: HeldBudget;
}

/**
 * Entries the delivery actors of one process may hold beyond each one's own bounds, shared: a
 * destination with a long backlog keeps it in memory instead of reading every entry back from KV,
 * while the process's memory stays bounded however many destinations are backlogged. Each queue
 * keeps its own bounds whatever the others take, so a paused or failing destination holding its
 * share never starves another.
 *
 * @example
 * ```ts
 * const budget = new HeldBudget({ maxItems: 8192, maxBytes: 32 * 1024 * 1024 });
 * const queue = new ReadyQueue({ budget });
 * ```
 */
export class HeldBudget {
  /** Entries the queues may hold beyond their own bounds, all together. */
  readonly maxItems: number;
  /** Payload bytes likewise. */
  readonly maxBytes: number;
  /** Entries held beyond the queues' own bounds now. */
  items = 0;
  /** Payload bytes likewise. */
  bytes = 0;

  /** Defaults: 8,192 entries, 32 MiB of payloads. */
  constructor(limits: { maxItems?: number; maxBytes?: number } = {}) {
    this.maxItems = limits.maxItems ?? 8192;
    this.maxBytes = limits.maxBytes ?? 32 * 1024 * 1024;
  }

  /** Entries still to be had (none once either bound is reached). */
  get room(): number {
    return this.bytes >= this.maxBytes ? 0 : Math.max(0, this.maxItems - this.items);
  }
}

/** See the module doc. */
export class ReadyQueue {
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #budget: HeldBudget | undefined;
  /** Entries and payload bytes this queue holds beyond its own bounds, counted in the budget. */
  #chargedItems = 0;
  #chargedBytes = 0;
  /**
   * The entries waiting, from `#start` on. Taking the head moves `#start` instead of shifting the
   * array: past ~16k entries V8 keeps an array where it cannot trim its front, and `shift()`
   * copied all of them for every message a backlogged destination sent.
   */
  #items: (QueueItem | undefined)[] = [];
  #start = 0;
  #bytes = 0;
  /** Seqs waiting here, in flight, or delivered and completing. */
  #known = new Set<string>();
  /**
   * Seqs forgotten since the current KV read began: a list taken before their completion
   * committed may still name them, and they must not come back.
   */
  #forgottenDuringRead = new Set<string>();
  /**
   * An entry was handed over and left to KV since the current read began: that read may have
   * listed KV before it was committed, so it cannot be the one that catches up.
   */
  #droppedDuringRead = false;
  /** Every KV entry up to here is known. */
  cursor: string | undefined;
  /** KV may hold unknown entries after {@link cursor}. */
  cold = true;

  /** An empty queue; it starts cold (KV not read yet). */
  constructor(limits: ReadyQueueLimits = {}) {
    this.#maxItems = limits.maxItems ?? 1024;
    this.#maxBytes = limits.maxBytes ?? 8 * 1024 * 1024;
    this.#budget = limits.budget;
  }

  /** Entries waiting to be sent. */
  get length(): number {
    return this.#items.length - this.#start;
  }

  /** The next entry to send. */
  get head(): QueueItem | undefined {
    return this.#items[this.#start];
  }

  /** Whether the entry `seq` was forgotten (gone from KV) since the current read began. */
  forgotten(seq: string): boolean {
    return this.#forgottenDuringRead.has(seq);
  }

  /**
   * Entries known to be in KV or possibly still there: waiting, in flight, or delivered and not
   * yet forgotten (their completion may not have committed). While the queue is warm, KV holds no
   * entry beyond these.
   */
  get known(): number {
    return this.#known.size;
  }

  /** Whether the entry `seq` is waiting, in flight or completing. */
  knows(seq: string): boolean {
    return this.#known.has(seq);
  }

  /**
   * Whether the head may be sent now: nothing unknown in KV comes before it. False while cold
   * and the head lies after the cursor (read KV first).
   */
  get headIsNext(): boolean {
    const head = this.#items[this.#start];
    if (!head) return false;
    return !this.cold || (this.cursor !== undefined && head.head.entry.seq <= this.cursor);
  }

  /**
   * Up to `max` entries waiting right after `seq` (normally the head), in order, each held with
   * its payload and certainly next (nothing unknown in KV before it): what may be sent after it
   * without asking KV. Stops at the first that is not.
   */
  following(seq: string, max: number): QueueItem[] {
    let i = this.#start;
    if (this.#items[i]?.head.entry.seq !== seq) {
      i = this.#items.findIndex((item, j) => j >= this.#start && item?.head.entry.seq === seq);
      if (i < 0) return [];
    }
    const out: QueueItem[] = [];
    for (let j = i + 1; j < this.#items.length && out.length < max; j++) {
      const item = this.#items[j]!;
      if (!item.payload) break;
      if (this.cold && (this.cursor === undefined || item.head.entry.seq > this.cursor)) break;
      out.push(item);
    }
    return out;
  }

  /** Whether memory is full: handed-over entries are then left in KV. */
  get full(): boolean {
    return this.room === 0;
  }

  /**
   * Entries committed by a writer of this process. Past the memory bounds they are not held:
   * the queue turns cold and reads them back from KV in order. While cold, none is held either:
   * older entries not read yet must come first, and KV gives them in order.
   */
  take(items: readonly QueueItem[]): void {
    for (const item of items) {
      const seq = item.head.entry.seq;
      if (this.#known.has(seq)) continue;
      if (this.cold || this.full) {
        this.cold = true;
        this.#droppedDuringRead = true;
        continue;
      }
      this.#insert(item);
      // Caught up with KV: a handed-over entry is the newest there is.
      if (this.cursor === undefined || seq > this.cursor) this.cursor = seq;
    }
  }

  /** How many more entries memory may hold now. */
  get room(): number {
    const own = this.#bytes >= this.#maxBytes ? 0 : Math.max(0, this.#maxItems - this.length);
    return own + (this.#budget?.room ?? 0);
  }

  /**
   * Entries listed from KV, in queue order, with the ones read in full (`read`; null for one that
   * was dealt with otherwise). A listed entry neither known nor read (no room) stops the merge:
   * with `advance` (listed after the cursor) the cursor moves to the last entry accounted for,
   * and `complete` (fewer listed than asked) means KV is caught up if everything was.
   */
  merge(
    listed: readonly QueueHead[],
    read: ReadonlyMap<string, QueueItem | null>,
    options: { advance: boolean; complete: boolean },
  ): void {
    let all = true;
    for (const head of listed) {
      const seq = head.entry.seq;
      if (!this.#known.has(seq) && !this.#forgottenDuringRead.has(seq)) {
        if (!read.has(seq)) {
          all = false;
          break;
        }
        const item = read.get(seq);
        if (item) this.#insert(item);
      }
      if (options.advance && (this.cursor === undefined || seq > this.cursor)) this.cursor = seq;
    }
    if (options.advance && options.complete && all && !this.full && !this.#droppedDuringRead) {
      this.cold = false;
    }
  }

  /** The head was delivered or moved aside: it leaves the queue, still known until `forget`. */
  shift(): QueueItem | undefined {
    if (this.#start >= this.#items.length) return undefined;
    const item = this.#items[this.#start];
    this.#items[this.#start++] = undefined;
    // Drop the taken front once it is most of the array (a copy of what is left, now and then).
    if (this.#start >= 1024 && this.#start * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#start);
      this.#start = 0;
    }
    if (item) {
      this.#bytes -= item.payload?.length ?? 0;
      this.#settle();
    }
    return item;
  }

  /**
   * The entry `seq` (the one that was sent) was delivered or moved aside: it leaves the queue,
   * still known until `forget`. Usually the head; but a commit that landed out of seq order may
   * have put an entry before it meanwhile, which stays, and goes next.
   */
  remove(seq: string): QueueItem | undefined {
    if (this.#items[this.#start]?.head.entry.seq === seq) return this.shift();
    for (let i = this.#start + 1; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item?.head.entry.seq !== seq) continue;
      this.#items.splice(i, 1);
      this.#bytes -= item.payload?.length ?? 0;
      this.#settle();
      return item;
    }
    return undefined;
  }

  /** The entry `seq` is gone from KV (its completion committed): it may be forgotten. */
  forget(seq: string): void {
    this.#known.delete(seq);
    this.#forgottenDuringRead.add(seq);
  }

  /**
   * A KV read begins: what was forgotten before it cannot be in what it lists (those entries were
   * gone from KV already), what is forgotten from now on until {@link merge} may be.
   */
  beginRead(): void {
    this.#forgottenDuringRead.clear();
    this.#droppedDuringRead = false;
  }

  /**
   * Drops what memory holds (an operator changed the queue under it): everything is read from KV
   * again, except `keep` (entries still completing, which KV may still list).
   */
  reset(keep: Iterable<string>): void {
    this.#items = [];
    this.#start = 0;
    this.#bytes = 0;
    this.#settle();
    this.#known = new Set(keep);
    this.cursor = undefined;
    this.cold = true;
  }

  #insert(item: QueueItem): void {
    const seq = item.head.entry.seq;
    this.#known.add(seq);
    this.#bytes += item.payload?.length ?? 0;
    // Almost always the newest: search from the end.
    let i = this.#items.length;
    while (i > this.#start && this.#items[i - 1]!.head.entry.seq > seq) i--;
    if (i === this.#items.length) this.#items.push(item);
    else this.#items.splice(i, 0, item);
    this.#settle();
  }

  /** Counts in the shared budget what this queue now holds beyond its own bounds. */
  #settle(): void {
    const budget = this.#budget;
    if (!budget) return;
    const items = Math.max(0, this.length - this.#maxItems);
    const bytes = Math.max(0, this.#bytes - this.#maxBytes);
    budget.items += items - this.#chargedItems;
    budget.bytes += bytes - this.#chargedBytes;
    this.#chargedItems = items;
    this.#chargedBytes = bytes;
  }
}
