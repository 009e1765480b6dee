/**
 * The durable store on Deno KV: accepting messages (group-committed, deduplicated), per-actor FIFO
 * queues, routing from one queue to many in one atomic step, and completing or dead-lettering a
 * queue's head together with its log.
 * @module
 */

import { type QueryIds, type QueryRecord, queryWrite } from "./queries.ts";
import { GroupCommitter, type Write } from "./group_commit.ts";
import { OwedCompletions } from "./owed_completions.ts";
import { isStorageFault, StoreHealth, StoreUnavailableError } from "./health.ts";
import { IdGenerator, idTime } from "./ids.ts";
import { boundText, keys, MAX_RECORD_CONTROL_ID } from "./keys.ts";
import { getValues, openKv } from "./kv.ts";
import { ReadGate } from "./read_gate.ts";
import { AuthState } from "./auth_state.ts";
import { ConsoleState } from "./console_state.ts";
import { FencedError, type LeaseOptions, Leases } from "./leases.ts";
import { listLogs, type LogFilter, type LogPage, sweepRetention } from "./logs.ts";
import { VerificationStore } from "./verifications.ts";
import { TranslationSetStore } from "./translation_sets.ts";
import { type Dictionary, PayloadDictionaries } from "./dictionaries.ts";
import { MAX_WITH_DICTIONARY } from "./raw_deflate.ts";
import {
  collectOrphanChunks,
  DEFLATE_FROM,
  INLINE_MAX,
  readPayload,
  readSmallPayloads,
  smallPayload,
  writePayload,
} from "./payloads.ts";
import type {
  AcceptRequest,
  AcceptResult,
  Delivery,
  DerivedMessage,
  QueueHead,
  QueueItem,
  RoutedEntry,
} from "./requests.ts";
import { applyLogUpdate, type LogUpdate, optional, RECORD_BYTES } from "./records.ts";
import type { ActorControl, Attempt, LogRecord, MessageRecord, QueueEntry } from "./types.ts";
import type { Logger } from "../runtime/log.ts";
import {
  clipRaw,
  moveQueueEntries,
  type MoveResult,
  setAsideEntry,
  unreadableEntry,
} from "./queue_repair.ts";

/** Times a queue is listed again after unreadable entries were set aside from it. */
const PEEK_PASSES = 4;

/** Times a log update is read again after another writer changed the log first. */
const MAX_LOG_RETRIES = 10;

/**
 * Actors reading their queues back from KV at once (a page of entries with their messages, logs
 * and payloads each); see `read_gate.ts` for why and what it measured.
 */
export const QUEUE_READS_AT_ONCE = 4;

export type { QueryIds, QueryPart, QueryRecord } from "./queries.ts";
export type { LogUpdate } from "./records.ts";
export type {
  AcceptRequest,
  AcceptResult,
  Delivery,
  DerivedMessage,
  QueueHead,
  QueueItem,
  RoutedEntry,
} from "./requests.ts";

/** How to open a {@link Store}. */
export interface StoreOptions {
  /** `:memory:`, a file path or a KV Connect URL. */
  path: string;
  accessToken?: string;
  /** This process's node id (in ids and leases). */
  node: string;
  /** `Date.now` unless a test injects a clock. */
  now?: () => number;
}

interface DedupeRecord {
  messageId: string;
  /** Absent when the ACK was too large to keep: the request's own ACK is answered instead. */
  ack?: string;
  /** When the first copy was stored (ms); older records were written without it. */
  at?: number;
}

/** Largest ACK kept in a dedupe record (a KV value holds 64 KiB; a peer's MSH-10 is unbounded). */
const MAX_STORED_ACK = 8 * 1024;

/** A duplicate's answer: the first copy's ACK, or the request's own when it was not kept. */
function duplicate(record: DedupeRecord, ack: string): AcceptResult {
  return { status: "duplicate", messageId: record.messageId, ack: record.ack ?? ack };
}

/** A delivery appended to a write: its queue, its entry and its SEND log. */
interface Appended {
  queue: string;
  entry: QueueEntry;
  log: LogRecord;
}

/** Adds a prepared translation's rows to the write that routes it. */
function addRows(write: Write, derived: DerivedMessage): void {
  write.sets!.push(...derived.rows.sets ?? []);
  write.deletes!.push(...derived.rows.deletes ?? []);
  write.bytes += derived.rows.bytes;
}

/**
 * The entries an accept routed, each with the message it sends (record and payload): the original
 * or a translation stored by the same commit. An entry sending a message stored earlier is left
 * out: its actor reads it from KV.
 */
function routedItems(
  appended: readonly Appended[],
  versionstamp: string,
  record: MessageRecord,
  request: AcceptRequest,
): QueueItem[] {
  const out: QueueItem[] = [];
  for (const a of appended) {
    const head = { queue: a.queue, entry: a.entry, versionstamp };
    const id = a.entry.messageId;
    if (id === record.id) out.push({ head, record, log: a.log, payload: request.payload });
    else {
      const sent = request.derived?.find((d) => d.id === id);
      if (sent) out.push({ head, record: sent.record, log: a.log, payload: sent.payload });
    }
  }
  return out;
}

/** See the module doc. */
export class Store {
  /** The KV handle: the store is its sole owner (tests may read it; production code goes
   * through the store's methods and the state objects below). */
  readonly kv: Deno.Kv;
  /** HTTPS destinations' verification records. */
  readonly verifications: VerificationStore;
  /** The HTTP API's signing key and used client-assertion `jti`s. */
  readonly auth: AuthState;
  /** Translation sets imported through the admin endpoint, each import a version. */
  readonly translationSets: TranslationSetStore;
  /** The operator console's audit log and users. */
  readonly console: ConsoleState;
  /** The node id this store writes ids with. */
  readonly node: string;
  /** Where the store reports what it does on its own (an unreadable queue entry set aside). */
  log: Logger | undefined;
  /**
   * Actors' reads of their queues go through this gate, so that commits never wait behind more
   * than {@link QUEUE_READS_AT_ONCE} of them (see `read_gate.ts`).
   */
  readonly queueReads: ReadGate = new ReadGate(QUEUE_READS_AT_ONCE);
  readonly #ids: IdGenerator;
  readonly #committer: GroupCommitter;
  /** Payload compression dictionaries (see dictionaries.ts). */
  readonly dictionaries: PayloadDictionaries;
  readonly #now: () => number;
  readonly #inflightDedupe = new Map<string, { promise: Promise<AcceptResult>; ack: string }>();
  #closed = false;
  /** The lease check a queue's writes carry (scale-out fencing); see {@link fenceWith}. */
  #fence: ((queue: string) => Deno.AtomicCheck | undefined) | undefined;
  /** Whether KV can commit now; see {@link StoreHealth}. */
  readonly health: StoreHealth;
  /** Deliveries whose completion has not committed, kept across actor activations. */
  readonly owed: OwedCompletions = new OwedCompletions();
  /** Checks an atomic operation may carry on this KV (100 on a file, 10 over KV Connect). */
  readonly #maxChecks: number;
  /** The running config's version, stamped on each RECEIVE and SEND log (set by the engine). */
  configVersion: () => string | undefined = () => undefined;

  /** Wraps an open KV. Prefer {@link Store.open}. */
  constructor(kv: Deno.Kv, options: { node: string; now?: () => number; maxChecks?: number }) {
    this.kv = kv;
    this.verifications = new VerificationStore(kv);
    this.auth = new AuthState(kv);
    this.translationSets = new TranslationSetStore(kv);
    this.console = new ConsoleState(kv);
    this.node = options.node;
    this.#now = options.now ?? Date.now;
    this.#ids = new IdGenerator(options.node);
    this.dictionaries = new PayloadDictionaries(kv, { now: this.#now });
    this.health = new StoreHealth({
      now: this.#now,
      probe: () =>
        this.#committer.commit({
          sets: [{ key: keys.healthProbe(this.node), value: this.#now() }],
          bytes: 64,
        }),
    });
    this.#maxChecks = options.maxChecks ?? 100;
    this.#committer = new GroupCommitter(kv, { maxChecks: this.#maxChecks }, this.health);
  }

  /** Opens the KV at `options.path` and the store on it. */
  static async open(options: StoreOptions): Promise<Store> {
    const kv = await openKv(options);
    const remote = /^https?:\/\//.test(options.path);
    const store = new Store(kv, {
      node: options.node,
      ...(options.now ? { now: options.now } : {}),
      maxChecks: remote ? 10 : 100,
    });
    await store.#raiseIdFloor();
    return store;
  }

  /** Batches committed, writes in them and rows they changed, for metrics. */
  get commitStats(): { batches: number; writes: number; mutations: number } {
    const c = this.#committer;
    return { batches: c.batches, writes: c.writes, mutations: c.mutations };
  }

  /** Writes waiting for a commit: how far behind durability the engine's writers are. */
  get commitBacklog(): number {
    return this.#committer.waiting;
  }

  /** Actor leases held on behalf of this store's node (one live activation per identity). */
  leases(options: LeaseOptions = {}): Leases {
    return new Leases(this.kv, this.node, { maxChecks: this.#maxChecks, ...options });
  }

  /**
   * Fencing: `fence(queue)` gives the lease check of the actor owning `queue` on this node (or
   * undefined), and every route, completion and dead-lettering of that queue's head carries it,
   * so once another node took the lease over, a stale owner's commit is refused.
   */
  fenceWith(fence: (queue: string) => Deno.AtomicCheck | undefined): void {
    this.#fence = fence;
  }

  /** The fencing check of `queue`, as a list to spread into a write's checks. */
  #fenced(queue: string): Deno.AtomicCheck[] {
    const check = this.#fence?.(queue);
    return check ? [check] : [];
  }

  /** One page of logs, newest first; see {@link listLogs}. */
  listLogs(filter: LogFilter = {}): Promise<LogPage> {
    return listLogs(this.kv, filter);
  }

  /** Hourly housekeeping: orphan chunks collected, logs and messages past `retentionMs` swept. */
  async housekeep(
    now: number,
    retentionMs: number,
  ): Promise<{ orphans: number; logs: number; messages: number }> {
    const orphans = await collectOrphanChunks(this.kv, now);
    const swept = await sweepRetention(this.kv, now, retentionMs);
    return { orphans, ...swept };
  }

  /** A new time-ordered id. */
  newId(): string {
    return this.#ids.next(this.#now());
  }

  /** Closes the KV. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.health.close();
    this.kv.close();
  }

  /**
   * Stores a received message durably with its RECEIVE log and queue entry, then resolves. Only
   * after this resolves may a transport acknowledge. Rejects when KV fails: nothing was stored.
   */
  accept(request: AcceptRequest): Promise<AcceptResult> {
    const dedupe = request.dedupe;
    if (!dedupe) return this.#accept(request);
    const flight = `${dedupe.scope}\u0000${dedupe.key}`;
    const earlier = this.#inflightDedupe.get(flight);
    if (earlier) {
      // The same message is being stored right now (a sender retry): answer it like a duplicate,
      // with the ACK stored for the first copy, as every later repeat will get.
      return earlier.promise.then((r) =>
        r.status === "stored"
          ? { status: "duplicate", messageId: r.messageId, ack: earlier.ack }
          : r
      );
    }
    const promise = this.#accept(request).finally(() => this.#inflightDedupe.delete(flight));
    this.#inflightDedupe.set(flight, { promise, ack: dedupe.ack });
    return promise;
  }

  /** The compression dictionary of the sender's messages of this kind, once there is one. */
  #dictionaryFor(request: AcceptRequest, messageId: string): Dictionary | undefined {
    const sender = `${request.origin.kind}:${request.origin.id}`;
    const kind = request.messageType ?? request.contentType;
    return this.#dictionaryOf(sender, kind, messageId, request.payload);
  }

  #dictionaryOf(
    sender: string,
    kind: string,
    messageId: string,
    payload: Uint8Array,
  ): Dictionary | undefined {
    if (payload.length <= DEFLATE_FROM || payload.length > MAX_WITH_DICTIONARY) return undefined;
    return this.dictionaries.forWrite(sender, kind, messageId, payload);
  }

  async #accept(request: AcceptRequest): Promise<AcceptResult> {
    const { dedupe } = request;
    const dedupeKey = dedupe ? keys.dedupe(dedupe.scope, dedupe.key) : undefined;
    // A small message goes straight to the commit, whose check on the dedupe key refuses a
    // repeat (answered below): a read before every accept would wait behind the commit in flight
    // on KV's one worker thread. A large one is looked up first, so a repeat does not write chunks.
    let seenVersion: string | null = null;
    if (dedupe && dedupeKey && request.payload.length > INLINE_MAX) {
      const seen = await this.kv.get<DedupeRecord>(dedupeKey);
      if (seen.value) {
        if (this.#fresh(seen.value, dedupe.windowMs)) return duplicate(seen.value, dedupe.ack);
        seenVersion = seen.versionstamp; // past the window: replaced by this message
      }
    }
    const now = this.#now();
    const messageId = request.messageId ?? this.newId();
    const logId = this.newId();
    const seq = this.newId();
    // A small payload is inline: no await (each one is a turn more before the commit is queued).
    const small = request.payload.length <= INLINE_MAX
      ? smallPayload(messageId, request.payload, this.#dictionaryFor(request, messageId))
      : undefined;
    const payload = small
      ? small.fields
      : await this.#writePayload(messageId, request.payload, now);
    const controlId = request.controlId === undefined
      ? undefined
      : boundText(request.controlId, MAX_RECORD_CONTROL_ID);
    const record: MessageRecord = {
      id: messageId,
      origin: request.origin,
      receivedAt: now,
      contentType: request.contentType,
      ...payload,
      ...optional({
        controlId,
        messageType: request.messageType,
        fileName: request.fileName,
        sha256: request.sha256,
      }),
      receiveLogId: logId,
    };
    const log: LogRecord = {
      id: logId,
      messageId,
      type: request.log.type,
      status: "PENDING",
      createdAt: now,
      updatedAt: now,
      attempts: [],
      attemptCount: 0,
      actorId: request.queue,
      ...optional({ configVersion: this.configVersion() }),
      ...optional({ ...request.log, controlId }),
    };
    const entry: QueueEntry = { seq, messageId, logId, enqueuedAt: now };
    const write: Write = {
      // The RECEIVE log is found through `record.receiveLogId`, without a log_by_msg entry.
      sets: [
        { key: keys.message(messageId), value: record },
        { key: keys.log(logId), value: log },
        ...(small?.rows ?? []),
      ],
      deletes: !small && payload.chunks > 0 ? [keys.chunkPending(messageId)] : [],
      sums: [],
      bytes: request.payload.length + RECORD_BYTES * 3,
    };
    // The translations the deliveries send are stored by this commit too: never one without it.
    for (const d of request.derived ?? []) addRows(write, d);
    let appended: Appended[] | undefined;
    if (request.deliveries) {
      log.status = request.deliveries.length > 0 ? "SUCCEEDED" : "FILTERED";
      if (request.deliveries.length === 0) log.reason ??= "no subscription wants this message";
      // Routed with the message: the record names its SEND logs (no log_by_msg row each).
      appended = this.#appendDeliveries(write, request.deliveries, now, { indexed: false });
      if (appended.length > 0) record.sendLogIds = appended.map((a) => a.log.id);
    } else {
      write.sets!.push({ key: keys.queueEntry(request.queue, seq), value: entry });
      write.sums!.push({ key: keys.queueDepth(request.queue), n: 1n });
    }
    // What was routed is handed on with the versionstamp of the commit that stored it.
    const stored = (versionstamp: string): AcceptResult => ({
      status: "stored",
      messageId,
      logId,
      seq,
      ...(appended
        ? {
          sendLogIds: appended.map((a) => a.log.id),
          routed: routedItems(appended, versionstamp, record, request),
        }
        : {}),
    });
    if (!dedupe || !dedupeKey) {
      const outcome = await this.#committer.commit(write);
      if (outcome.ok) return stored(outcome.versionstamp);
      throw new Error("accept: commit refused without a check to explain it");
    }
    const remembered: DedupeRecord = {
      messageId,
      at: now,
      // An empty one is not kept: the sender rebuilds its ACK (from the message id) instead.
      ...(dedupe.ack && dedupe.ack.length <= MAX_STORED_ACK ? { ack: dedupe.ack } : {}),
    };
    // KV's expireIn only cleans up, and lazily: the window is the record's time, compared here.
    write.sets!.push({ key: dedupeKey, value: remembered, expireIn: dedupe.windowMs });
    for (let attempt = 1; attempt <= 3; attempt++) {
      write.checks = [{ key: dedupeKey, versionstamp: seenVersion }];
      const outcome = await this.#committer.commit(write);
      if (outcome.ok) return stored(outcome.versionstamp);
      // A repeat: stored earlier (a small message is not looked up first), or by another process.
      const seen = await this.kv.get<DedupeRecord>(dedupeKey);
      if (seen.value && this.#fresh(seen.value, dedupe.windowMs)) {
        return duplicate(seen.value, dedupe.ack);
      }
      // Gone, or older than the window: this message replaces it (checked, in case of a race).
      seenVersion = seen.versionstamp;
    }
    throw new Error("accept: the dedupe record kept changing; not stored");
  }

  /** Whether a dedupe record is still within `windowMs` of its first copy. */
  #fresh(record: DedupeRecord, windowMs: number): boolean {
    const at = record.at ?? idTime(record.messageId);
    return !(this.#now() - at >= windowMs);
  }

  /** Writes a large payload's chunks; a KV fault is reported as the store being unwritable. */
  async #writePayload(
    id: string,
    payload: Uint8Array,
    now: number,
  ): ReturnType<typeof writePayload> {
    try {
      return await writePayload(this.kv, id, payload, now);
    } catch (error) {
      if (!isStorageFault(error)) throw error;
      this.health.failed(error);
      throw new StoreUnavailableError(error);
    }
  }

  /**
   * A translation of `originalId` made ready for the commit that routes it (`derived` of
   * {@link route}, of {@link accept}): its id, its record, its payload and the rows that store it
   * (none is stored on its own: always by the commit that routes it). A small payload is stored as a received one is (in the
   * record, or a row of its own beside it) and writes nothing before that commit; with
   * `options.dictionary` (the original's sender, and the kind of translation) it is deflated after
   * that sender's dictionary for that kind, once there is one. A large payload's chunks are
   * written now, marked pending until that commit.
   */
  async prepareDerived(
    originalId: string,
    payload: Uint8Array,
    contentType: string,
    options: { dictionary?: { sender: string; kind: string } } = {},
  ): Promise<DerivedMessage> {
    const now = this.#now();
    const id = this.newId();
    const by = options.dictionary;
    const small = payload.length <= INLINE_MAX
      ? smallPayload(id, payload, by && this.#dictionaryOf(by.sender, by.kind, id, payload))
      : undefined;
    const stored = small ? small.fields : await this.#writePayload(id, payload, now);
    const record: MessageRecord = {
      id,
      origin: { kind: "engine", id: "translator" },
      receivedAt: now,
      contentType,
      derivedFrom: originalId,
      ...stored,
    };
    return {
      id,
      record,
      payload,
      rows: {
        sets: [{ key: keys.message(id), value: record }, ...(small?.rows ?? [])],
        deletes: !small && stored.chunks > 0 ? [keys.chunkPending(id)] : [],
        // A large payload is in its chunks already: only the record goes with the commit.
        bytes: (small ? payload.length : 0) + RECORD_BYTES,
      },
    };
  }

  /**
   * The first `limit` entries of a queue, in order (those after the seq `after`, if given). An
   * entry that cannot be read (another version's, or damaged) is taken out of the queue into its
   * dead-letter list on the way, with an ERROR `queue.unreadable-entry` (see queue_repair.ts).
   */
  async peek(queue: string, limit = 1, after?: string): Promise<QueueHead[]> {
    // After a seq: from that entry's key (inclusive), skipping it.
    const selector = after === undefined
      ? { prefix: keys.queuePrefix(queue) }
      : { prefix: keys.queuePrefix(queue), start: keys.queueEntry(queue, after) };
    for (let pass = 0;; pass++) {
      const out: QueueHead[] = [];
      let setAside = 0;
      const iter = this.kv.list<unknown>(selector, {
        limit: after === undefined ? limit : limit + 1,
      });
      for await (const e of iter) {
        const why = unreadableEntry(queue, e.key, e.value);
        if (why) {
          if (pass < PEEK_PASSES && await this.setAside(queue, e, why)) setAside++;
          continue;
        }
        const entry = e.value as QueueEntry;
        if (after !== undefined && entry.seq <= after) continue;
        if (out.length < limit) out.push({ queue, entry, versionstamp: e.versionstamp });
      }
      // What was set aside made room: list again for the entries behind it.
      if (setAside === 0 || pass >= PEEK_PASSES) return out;
    }
  }

  /**
   * Takes an unreadable entry of `queue` out into its dead-letter list and logs an ERROR
   * `queue.unreadable-entry` naming the key, why, and the raw value (clipped). False if the entry
   * changed or went meanwhile.
   */
  async setAside(queue: string, e: Deno.KvEntry<unknown>, why: string): Promise<boolean> {
    const ok = await setAsideEntry((w) => this.#committer.commit(w), queue, e, why, this.#now());
    if (ok) {
      this.log?.error("queue.unreadable-entry", {
        queue,
        key: clipRaw(e.key),
        reason: why,
        value: clipRaw(e.value),
        movedTo: "dead-letters",
      });
    }
    return ok;
  }

  /**
   * Moves the entries of queue `from` that `targetOf` sends elsewhere to that queue, keeping
   * their order (see {@link moveQueueEntries}); unreadable ones are set aside. Call it with no
   * actor running for `from` (the completions its last actor still owes are committed first).
   */
  async moveQueue(
    from: string,
    targetOf: (entry: QueueEntry) => string | undefined,
  ): Promise<MoveResult> {
    // Delivered by the queue's last actor, their completion still owed: completed, not moved
    // (moved, they would be sent again).
    for (const o of this.owed.of(from)) {
      await this.complete(o.head, o.attempt, o.log ? { log: o.log } : {});
      this.owed.settled(from, o.head.entry.seq);
    }
    return await moveQueueEntries(
      this.kv,
      (w) => this.#committer.commit(w),
      from,
      targetOf,
      (e, why) => this.setAside(from, e, why),
    );
  }

  /** How many entries a queue holds. */
  async depth(queue: string): Promise<number> {
    const v = await this.kv.get<Deno.KvU64>(keys.queueDepth(queue));
    return v.value ? Number(v.value.value) : 0;
  }

  /** Every queue that holds entries, with its depth: what must be restored at start. */
  async nonEmptyQueues(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for await (const e of this.kv.list<Deno.KvU64>({ prefix: keys.queueDepthPrefix })) {
      const n = Number(e.value.value);
      if (n > 0 && n < 2 ** 53 && typeof e.key[1] === "string") out.set(e.key[1], n);
    }
    return out;
  }

  /**
   * Application step: in one atomic operation, removes `head` from its queue, appends an entry to
   * each delivery's queue with a PENDING SEND log, and closes the RECEIVE log (`options.log`, when
   * the caller read it already). Returns false if the head was already taken (by an operator or
   * another process): nothing was written.
   */
  async route(
    head: QueueHead,
    deliveries: Delivery[],
    receive: LogUpdate,
    options: { log?: LogRecord; derived?: readonly DerivedMessage[] } = {},
  ): Promise<boolean> {
    return (await this.routeEntries(head, deliveries, receive, options)) !== undefined;
  }

  /**
   * {@link route}, giving back each delivery's queue entry as committed (in the order of
   * `deliveries`), to hand to its actor in memory; undefined if the head was already taken.
   */
  async routeEntries(
    head: QueueHead,
    deliveries: Delivery[],
    receive: LogUpdate,
    options: { log?: LogRecord; derived?: readonly DerivedMessage[] } = {},
  ): Promise<RoutedEntry[] | undefined> {
    const now = this.#now();
    const write: Write = {
      checks: [{
        key: keys.queueEntry(head.queue, head.entry.seq),
        versionstamp: head.versionstamp,
      }, ...this.#fenced(head.queue)],
      sets: [],
      deletes: [keys.queueEntry(head.queue, head.entry.seq)],
      sums: [{ key: keys.queueDepth(head.queue), n: -1n }],
      bytes: RECORD_BYTES * 2,
    };
    // The translations the deliveries send are stored by this commit too: never one without it.
    for (const d of options.derived ?? []) addRows(write, d);
    const appended = this.#appendDeliveries(write, deliveries, now);
    // With the log known, nothing is awaited before the commit is queued: routes issued one after
    // the other commit in that order, so the queue entries they append keep their order.
    // A RECEIVE log has no other writer while its message is queued: no check on it is needed.
    const current = options.log ?? (await this.getLog(head.entry.logId));
    const log = current ? applyLogUpdate(current, receive, now) : null;
    if (log) write.sets!.push({ key: keys.log(log.id), value: log });
    const outcome = await this.#committer.commit(write);
    if (!outcome.ok) return undefined;
    return appended.map((a) => ({
      head: { queue: a.queue, entry: a.entry, versionstamp: outcome.versionstamp },
      log: a.log,
    }));
  }

  /**
   * Delivery succeeded: removes the head and marks its log SUCCEEDED with the final attempt, in
   * one atomic step. False if the head was already gone (skipped by an operator meanwhile); a
   * {@link FencedError} if this node's lease of the queue is not the one in KV.
   */
  async complete(
    head: QueueHead,
    attempt: Omit<Attempt, "n">,
    options: { log?: LogRecord } = {},
  ): Promise<boolean> {
    return await this.#finish(head, { status: "SUCCEEDED", attempt }, undefined, options.log);
  }

  /**
   * Moves the head aside to the dead-letter list and marks its log FAILED, saying who and why.
   * False if the head was already gone; a {@link FencedError} if this node's lease of the queue
   * is not the one in KV.
   */
  async deadLetter(
    head: QueueHead,
    by: string,
    reason: string,
    attempt?: Omit<Attempt, "n">,
  ): Promise<boolean> {
    return await this.#finish(head, {
      status: "FAILED",
      reason,
      deadLetter: { by, reason, queue: head.queue, seq: head.entry.seq },
      ...(attempt ? { attempt } : {}),
    }, { key: keys.deadLetter(head.queue, head.entry.seq), value: { ...head.entry, by, reason } });
  }

  async #finish(
    head: QueueHead,
    update: LogUpdate,
    extra?: { key: Deno.KvKey; value: unknown },
    known?: LogRecord,
  ): Promise<boolean> {
    const entryKey = keys.queueEntry(head.queue, head.entry.seq);
    for (let attempt = 1;; attempt++) {
      // A log read here is checked too: another writer (a recorded attempt) may change it
      // meanwhile, and writing the stale copy back would lose that change.
      const read = known ? undefined : await this.kv.get<LogRecord>(keys.log(head.entry.logId));
      const base = known ?? read?.value ?? null;
      const log = base ? applyLogUpdate(base, update, this.#now()) : null;
      const outcome = await this.#committer.commit({
        checks: [
          { key: entryKey, versionstamp: head.versionstamp },
          ...(read ? [{ key: read.key, versionstamp: read.versionstamp }] : []),
          ...this.#fenced(head.queue),
        ],
        sets: [...(log ? [{ key: keys.log(log.id), value: log }] : []), ...(extra ? [extra] : [])],
        deletes: [entryKey],
        sums: [{ key: keys.queueDepth(head.queue), n: -1n }],
        bytes: RECORD_BYTES * 3,
      });
      if (outcome.ok) return true;
      // Refused: the head is gone (someone else finished it), its log changed (read again), or
      // the lease check failed. Only the first means the entry is done with: the others are tried
      // again, with the log and the lease as they are now. Taken as gone, a head still queued
      // would be read back and sent again.
      const entry = await this.kv.get(entryKey);
      if (entry.versionstamp !== head.versionstamp) return false;
      if (attempt === MAX_LOG_RETRIES) throw new FencedError(head.queue, head.entry.seq, attempt);
    }
  }

  /**
   * Sends a dead-lettered message back to the tail of the queue it was taken from (an inbound
   * queue to be parsed and routed again, or a destination's queue to be delivered again), with
   * its log PENDING again and who asked and why recorded. Refused with a reason when the log is
   * not in a dead-letter list.
   */
  async reprocess(
    logId: string,
    by: string,
    reason: string,
  ): Promise<{ ok: true; queue: string; log: LogRecord } | { ok: false; error: string }> {
    const current = await this.getLog(logId);
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
      const e = await this.kv.get<QueueEntry>(keys.deadLetter(queue, dl.seq));
      if (e.versionstamp !== null) found = e as Deno.KvEntry<QueueEntry>;
    } else {
      // Dead-lettered before the log kept its place: look for it.
      for await (const e of this.kv.list<QueueEntry>({ prefix: keys.deadLetterPrefix(queue) })) {
        if (e.value.logId === logId) {
          found = e;
          break;
        }
      }
    }
    if (!found) return { ok: false, error: `log ${logId}: its dead-letter entry is gone` };
    const now = this.#now();
    const seq = this.newId();
    const { by: _by, reason: _reason, ...entryFields } = found.value as QueueEntry & {
      by?: string;
      reason?: string;
    };
    const entry: QueueEntry = { ...entryFields, seq, enqueuedAt: now };
    const { deadLetter: _dl, ...rest } = current;
    const log: LogRecord = {
      ...rest,
      status: "PENDING",
      reason: `reprocess requested by ${by}${reason ? `: ${reason}` : ""}`,
      updatedAt: now,
      reprocessed: { by, reason, at: now, count: (current.reprocessed?.count ?? 0) + 1 },
    };
    const outcome = await this.#committer.commit({
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

  /** Adds each delivery's SEND log and queue entry to `write`; returns the log ids. */
  #appendDeliveries(
    write: Write,
    deliveries: Delivery[],
    now: number,
    options: { indexed?: boolean } = {},
  ): Appended[] {
    const out: Appended[] = [];
    for (const d of deliveries) {
      const logId = this.newId();
      const seq = this.newId();
      const log: LogRecord = {
        id: logId,
        messageId: d.originalId,
        type: "SEND",
        status: "PENDING",
        destinationId: d.destinationId,
        actorId: d.queue,
        ...optional({ configVersion: this.configVersion() }),
        createdAt: now,
        updatedAt: now,
        attempts: [],
        attemptCount: 0,
        ...optional(d.log),
        // Queue entries go once delivered: the log keeps which translation was sent.
        ...(d.messageId !== d.originalId ? { deliveredId: d.messageId } : {}),
        // A peer's MSH-10 may be huge: the log keeps a bounded copy, as the message record does.
        ...(d.log.controlId !== undefined
          ? { controlId: boundText(d.log.controlId, MAX_RECORD_CONTROL_ID) }
          : {}),
      };
      const entry: QueueEntry = {
        seq,
        messageId: d.messageId,
        logId,
        enqueuedAt: now,
        destinationId: d.destinationId,
        ...(d.messageId !== d.originalId ? { originalId: d.originalId } : {}),
      };
      write.sets!.push(
        { key: keys.log(logId), value: log },
        { key: keys.queueEntry(d.queue, seq), value: entry },
      );
      if (options.indexed !== false) {
        write.sets!.push({ key: keys.logByMessage(d.originalId, logId), value: logId });
      }
      write.sums!.push({ key: keys.queueDepth(d.queue), n: 1n });
      write.bytes += RECORD_BYTES * 3;
      out.push({ queue: d.queue, entry, log });
    }
    return out;
  }

  /** Records a failed attempt on a log; the head stays in its queue. */
  async recordAttempt(logId: string, attempt: Omit<Attempt, "n">): Promise<void> {
    await this.#changeLog(logId, { attempt });
  }

  /** Changes a log's status (e.g. a RECEIVE log that failed to parse). */
  updateLog(logId: string, update: LogUpdate): Promise<LogRecord | null> {
    return this.#changeLog(logId, update);
  }

  /**
   * Reads, changes and writes back one log, checked against its versionstamp and read again when
   * another writer changed it in between (a skip and a recorded attempt may meet).
   */
  async #changeLog(logId: string, update: LogUpdate): Promise<LogRecord | null> {
    for (let attempt = 1;; attempt++) {
      const current = await this.kv.get<LogRecord>(keys.log(logId));
      if (!current.value) return null;
      const log = applyLogUpdate(current.value, update, this.#now());
      const outcome = await this.#committer.commit({
        checks: [{ key: current.key, versionstamp: current.versionstamp }],
        sets: [{ key: current.key, value: log }],
        bytes: RECORD_BYTES * 2,
      });
      if (outcome.ok) return log;
      if (attempt === MAX_LOG_RETRIES) throw new Error(`log ${logId} kept changing; not updated`);
    }
  }

  /** A log by id. */
  async getLog(id: string): Promise<LogRecord | null> {
    return (await this.kv.get<LogRecord>(keys.log(id))).value;
  }

  /** Several logs by id, in the same order (null where missing). */
  getLogs(ids: string[]): Promise<(LogRecord | null)[]> {
    return getValues<LogRecord>(this.kv, ids.map(keys.log));
  }
  /** The logs of one message (its RECEIVE log and one SEND log per destination). */
  async logsOfMessage(messageId: string): Promise<LogRecord[]> {
    const ids: string[] = [];
    const record = await this.getMessage(messageId);
    const receive = record?.receiveLogId;
    if (receive !== undefined) ids.push(receive);
    // SEND logs made with the message are named by its record; later ones are indexed.
    ids.push(...record?.sendLogIds ?? []);
    for await (const e of this.kv.list<string>({ prefix: keys.logByMessagePrefix(messageId) })) {
      if (e.value !== receive) ids.push(e.value);
    }
    ids.sort();
    const logs = await getValues<LogRecord>(this.kv, ids.map(keys.log));
    return logs.filter((l) => l !== null);
  }

  /** A message record by id. */
  async getMessage(id: string): Promise<MessageRecord | null> {
    return (await this.kv.get<MessageRecord>(keys.message(id))).value;
  }

  /** Several message records by id, in the same order (null where missing). */
  getMessages(ids: string[]): Promise<(MessageRecord | null)[]> {
    return getValues<MessageRecord>(this.kv, ids.map(keys.message));
  }

  /** A message's payload bytes. */
  async getPayload(record: MessageRecord): Promise<Uint8Array> {
    return await readPayload(this.kv, record, this.dictionaries);
  }

  /**
   * The payloads of `records` up to `maxBytes` each, read together (undefined for larger ones,
   * which {@link getPayload} reads when needed).
   */
  getSmallPayloads(
    records: readonly MessageRecord[],
    maxBytes: number,
  ): Promise<(Uint8Array | undefined)[]> {
    return readSmallPayloads(this.kv, records, maxBytes, this.dictionaries);
  }

  /** An operator's pause state of an actor. */
  async getControl(actor: string): Promise<ActorControl> {
    return (await this.kv.get<ActorControl>(keys.actorControl(actor))).value ?? { paused: false };
  }

  /** Saves an operator's pause or resume. */
  async setControl(actor: string, control: ActorControl): Promise<void> {
    await this.#mustCommit({
      sets: [{ key: keys.actorControl(actor), value: control }],
      bytes: RECORD_BYTES,
    });
  }

  /** Entries moved aside from a queue. */
  async deadLetters(
    queue: string,
    limit = 100,
  ): Promise<(QueueEntry & { by: string; reason: string })[]> {
    const out: (QueueEntry & { by: string; reason: string })[] = [];
    const iter = this.kv.list<QueueEntry & { by: string; reason: string }>({
      prefix: keys.deadLetterPrefix(queue),
    }, { limit });
    for await (const e of iter) out.push(e.value);
    return out;
  }

  /**
   * Records a synchronous query (a query) once it is over, in one commit: the request with its
   * REQUEST log and, when an answer came, the answer with its RESPOND log. Nothing is queued.
   */
  async recordQuery(query: QueryRecord): Promise<QueryIds> {
    const { write, ids } = await queryWrite(this.kv, query, {
      now: this.#now(),
      newId: () => this.newId(),
    });
    await this.#mustCommit(write);
    return ids;
  }

  async #mustCommit(write: Write): Promise<void> {
    const outcome = await this.#committer.commit(write);
    if (!outcome.ok) throw new Error("commit refused");
  }

  async #raiseIdFloor(): Promise<void> {
    // Ids must keep sorting after those already stored even if the clock went back.
    for (const prefix of [keys.logPrefix, ["msg"]] as Deno.KvKey[]) {
      for await (const e of this.kv.list({ prefix }, { reverse: true, limit: 1 })) {
        const last = e.key[e.key.length - 1];
        if (typeof last === "string") this.#ids.observe(last);
      }
    }
  }
}
