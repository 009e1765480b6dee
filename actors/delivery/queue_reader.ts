/**
 * What a delivery actor knows of its KV queue, and how it reads it: entries read in batches into
 * memory (the {@link ReadyQueue}), from the head or on from the cursor, a batch read ahead while the
 * head is on the wire, and, with a shared KV, a check before each send that no older entry was
 * committed late by another process.
 * @module
 */

import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { QueueHead, Store } from "../store/store.ts";
import type { QueueItem } from "../store/requests.ts";
import { olderInKv } from "./head_check.ts";
import type { ReadyQueue } from "./ready_queue.ts";

/** Queue entries read from KV at once. */
export const BATCH = 128;
/** While cold, the next batch is read ahead once fewer entries than this wait in memory. */
const READ_AHEAD_BELOW = BATCH;
/** A payload larger than this is not kept in memory with its entry; it is read when sent. */
export const MAX_HELD_PAYLOAD = 64 * 1024;

/** What a {@link QueueReader} reads with, and into. */
export interface QueueReaderOptions {
  /** The queue (the actor's identity). */
  id: string;
  store: Store;
  clock: Clock;
  log: Logger;
  /** The queue in memory, shared with the actor. */
  ready: ReadyQueue;
  /** Seqs delivered whose completion has not committed yet (KV still lists them). */
  completing: ReadonlySet<string>;
}

/** Reads a delivery actor's queue into memory; see the module doc. */
export class QueueReader {
  readonly id: string;
  readonly #options: QueueReaderOptions;
  readonly #ready: ReadyQueue;
  readonly #completing: ReadonlySet<string>;
  /** A read ahead under way (see {@link readAhead}). */
  #reading: Promise<void> | undefined;
  /** Bumped by a skip, so what was read before it is not sent on. */
  epoch = 0;
  /** When KV was last scanned from the head (for other processes' writes), monotonic ms. */
  lastScan = -Infinity;

  /** A reader of queue `options.id` into `options.ready`. */
  constructor(options: QueueReaderOptions) {
    this.id = options.id;
    this.#options = options;
    this.#ready = options.ready;
    this.#completing = options.completing;
  }

  /** Whether a read on from the cursor is under way. */
  get reading(): boolean {
    return this.#reading !== undefined;
  }

  /** Waits for a read under way, whatever its outcome (the actor is stopping). */
  async settle(): Promise<void> {
    await this.#reading?.catch(() => {});
  }

  /**
   * With a shared KV, just before `item` (the head in memory) goes: true when KV holds no entry
   * before it that the actor does not know (see head_check.ts) and nothing changed the head
   * meanwhile (`paused` says whether the actor was paused since). Otherwise the older entries are read in, to go first, and false: the loop takes
   * the head again. One small KV list per send; a read only when a late entry is there.
   */
  async confirmHead(item: QueueItem, paused: () => boolean): Promise<boolean> {
    const { store } = this.#options;
    const epoch = this.epoch;
    const older = await olderInKv(
      store,
      this.id,
      item.head.entry.seq,
      this.#ready,
      this.#completing.size,
    );
    if (!older) {
      // A skip, a pause or a read may have changed the head meanwhile.
      return epoch === this.epoch && this.#ready.head === item && !paused();
    }
    // One read at a time: each keeps track of what is forgotten while it lists.
    await this.done();
    if (epoch !== this.epoch) return false;
    if (this.#ready.room === 0) {
      // Memory is full and cannot take the older entry: read the queue again from its head.
      this.#ready.reset(this.#completing);
      return false;
    }
    await this.read(false, this.#completing.size + 1);
    return false;
  }

  /**
   * While KV holds more than memory (cold), the next batch is read after the cursor while the
   * head is on the wire, so the wait for KV under load does not stop deliveries. Only reads after
   * the cursor run ahead: their entries all come after the head in flight (`headIsNext`), so the
   * head stays first. One read at a time.
   */
  readAhead(): void {
    if (this.#reading || !this.#ready.cold || this.#ready.length > READ_AHEAD_BELOW) return;
    if (this.#ready.room === 0) return;
    this.readOn();
  }

  /** Reads after the cursor in the background (see {@link readAhead}); one at a time. */
  readOn(): void {
    const reading = this.read(true).finally(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    // Awaited by the loop (which rethrows a KV error so the supervisor restarts the actor);
    // observed here so that it is never an unhandled rejection meanwhile.
    reading.catch(() => {});
    this.#reading = reading;
  }

  /** Waits for a read ahead under way; rethrows its failure. */
  async done(): Promise<void> {
    if (this.#reading) await this.#reading;
  }

  /**
   * Reads up to `limit` entries from KV into memory: after the cursor (`advance`), or from the
   * head of the queue. Entries known already (waiting, in flight, completing) are not read again.
   */
  async read(advance: boolean, limit = BATCH): Promise<void> {
    const { store } = this.#options;
    const room = this.#ready.room;
    if (advance && room === 0) return; // memory is full: read on once some are sent
    const epoch = this.epoch;
    // Nothing read yet: a read from the head is a read on from the (unset) cursor, and counts as
    // one (a complete list warms the queue). Otherwise a restart with a thousand backlogs read
    // every queue twice through the read gate, the second time to learn nothing new.
    const first = !advance && this.#ready.cursor === undefined;
    const fromHead = !advance || this.#ready.cursor === undefined;
    this.#ready.beginRead();
    const read = async () => {
      // A look from the head counts from when it lists, not from when it joined the read gate's
      // line: after seconds in line (a thousand backlogs restoring), the next look was due at
      // once and listed the entries just read again (17 of every 20 in a 1,000-queue drain).
      if (fromHead) this.lastScan = this.#options.clock.monotonic();
      const listed = await store.peek(this.id, limit, advance ? this.#ready.cursor : undefined);
      const fresh = listed.filter((h) =>
        !this.#ready.knows(h.entry.seq) && !this.#ready.forgotten(h.entry.seq)
      )
        .slice(0, room);
      const [records, logs] = fresh.length === 0 ? [[], []] : await Promise.all([
        store.getMessages(fresh.map((h) => h.entry.messageId)),
        store.getLogs(fresh.map((h) => h.entry.logId)),
      ]);
      // Payloads come with their entries: one read for the batch, not one per message sent.
      const found = records.filter((r) => r !== null);
      const payloads = found.length === 0
        ? []
        : await store.getSmallPayloads(found, MAX_HELD_PAYLOAD);
      return { listed, fresh, records, logs, payloads };
    };
    // A cold actor reads its backlog back in turn with the others (the store's `queueReads`):
    // commits queue behind every read issued before them. A warm actor's look from the head (a
    // page it knows, every poll period) goes straight on: in line behind a thousand backlogs
    // it would hold up what was handed over (paced p99 2–3.8 s, against 66–221 ms).
    const { listed, fresh, records, logs, payloads } = this.#ready.cold
      ? await store.queueReads.run(read)
      : await read();
    if (epoch !== this.epoch) return; // a skip reset the queue meanwhile
    const items = new Map<string, QueueItem | null>();
    let p = 0;
    for (let i = 0; i < fresh.length; i++) {
      const head = fresh[i]!;
      const record = records[i];
      if (!record) {
        items.set(head.entry.seq, null);
        await this.#missing(head);
        continue;
      }
      const payload = payloads[p++];
      const item: QueueItem = { head, record, log: logs[i] ?? null };
      if (payload) item.payload = payload;
      items.set(head.entry.seq, item);
    }
    this.#ready.merge(listed, items, {
      advance: advance || first,
      complete: listed.length < limit,
    });
  }

  /** An entry whose message is gone (should not happen): never block the queue on it. */
  async #missing(head: QueueHead): Promise<void> {
    const { store, log } = this.#options;
    await store.deadLetter(head, "engine", `message ${head.entry.messageId} is missing from KV`);
    log.error("delivery.missing-message", { actor: this.id, messageId: head.entry.messageId });
  }
}
