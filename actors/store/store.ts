/**
 * The durable store on Deno KV: accepting messages (group-committed, deduplicated), per-actor FIFO
 * queues, routing from one queue to many in one atomic step, and completing or dead-lettering a
 * queue's head together with its log.
 *
 * The {@link Store} is the one face of it; each idea lives in a module of its own, handed the
 * store's private parts explicitly (`store_context.ts`): intake (`intake.ts`, `deliveries.ts`),
 * reading queues (`queue_reads.ts`, `queue_repair.ts`), the writes that take a queue's head out
 * (`head_writes.ts`), changing a log (`log_updates.ts`), the dead-letter lists
 * (`dead_letters.ts`), listing logs (`logs.ts`), payloads (`payloads.ts`).
 * @module
 */

import { type QueryIds, type QueryRecord, queryWrite } from "./queries.ts";
import { GroupCommitter, type Write } from "./group_commit.ts";
import { OwedCompletions } from "./owed_completions.ts";
import { StoreHealth } from "./health.ts";
import { IdGenerator } from "./ids.ts";
import { keys } from "./keys.ts";
import { getValues, kvPathKind, openKv } from "./kv.ts";
import { ensureStoreFormat } from "./format.ts";
import { type ExpiryIndexOutcome, narrowExpiryIndex } from "./expiry_index.ts";
import { ENGINE_VERSION } from "../runtime/version.ts";
import { ReadGate } from "./read_gate.ts";
import { AuthState } from "./auth_state.ts";
import { ConsoleState } from "./console_state.ts";
import { type LeaseOptions, Leases } from "./leases.ts";
import { listLogs, type LogFilter, type LogPage, logsOfMessage, sweepRetention } from "./logs.ts";
import { type PayloadSearch, type PayloadSearchPage, searchPayloads } from "./payload_search.ts";
import { VerificationStore } from "./verifications.ts";
import { TranslationSetStore } from "./translation_sets.ts";
import { PayloadDictionaries } from "./dictionaries.ts";
import { collectOrphanChunks, readPayload, readSmallPayloads } from "./payloads.ts";
import type {
  AcceptRequest,
  AcceptResult,
  Delivery,
  DerivedMessage,
  QueueHead,
  QueueLook,
  RoutedEntry,
} from "./requests.ts";
import { type LogUpdate, RECORD_BYTES } from "./records.ts";
import type { ActorControl, Attempt, LogRecord, MessageRecord, QueueEntry } from "./types.ts";
import type { Logger } from "../runtime/log.ts";
import { moveQueueEntries, type MoveResult } from "./queue_repair.ts";
import type { StoreContext } from "./store_context.ts";
import { acceptMessage, prepareDerived } from "./intake.ts";
import {
  lookAtHead,
  nonEmptyQueues,
  peekQueue,
  queueDepth,
  setAside,
  setAsideLook,
} from "./queue_reads.ts";
import { completeHead, deadLetterHead, routeHead } from "./head_writes.ts";
import { changeLog, readLog } from "./log_updates.ts";
import { type DeadLetter, listDeadLetters, reprocess } from "./dead_letters.ts";

/**
 * Actors reading their queues back from KV at once (a page of entries with their messages, logs
 * and payloads each); see `read_gate.ts` for why and what it measured.
 */
export const QUEUE_READS_AT_ONCE = 4;

export type { QueryIds, QueryPart, QueryRecord } from "./queries.ts";
export type { LogUpdate } from "./records.ts";
export type {
  AcceptDedupe,
  AcceptRequest,
  AcceptResult,
  Delivery,
  DerivedMessage,
  QueueHead,
  QueueItem,
  QueueLook,
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
  /** The engine release the store-format marker names (format.ts); `ENGINE_VERSION` default. */
  release?: string;
  /**
   * A local file larger than this keeps Deno KV's expiry index over every row (narrowing it reads
   * the whole file under the write lock); default `NARROW_AT_START_MAX_BYTES` (expiry_index.ts).
   */
  narrowIndexMaxBytes?: number;
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
   * What opening did to Deno KV's expiry index of a local file (expiry_index.ts), for the
   * engine to report; undefined for `:memory:` and KV Connect.
   */
  expiryIndex: ExpiryIndexOutcome | undefined;
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
  /** Accepts with a dedupe key being stored now, by scope and key. */
  readonly #inflightDedupe = new Map<
    string,
    { promise: Promise<AcceptResult>; ack: string; payload: Uint8Array }
  >();
  #closed = false;
  /** What the store's modules work with: its KV, committer, clock, fencing and itself. */
  readonly #ctx: StoreContext;
  /** Whether KV can commit now; see {@link StoreHealth}. */
  readonly health: StoreHealth;
  /** Rethrows a read's error, after telling {@link health} if it says the file is damaged. */
  readonly #damaged = (error: unknown): never => {
    this.health.noticeDamage(error);
    throw error;
  };
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
    this.#ctx = {
      kv,
      committer: this.#committer,
      now: this.#now,
      dictionaries: this.dictionaries,
      health: this.health,
      self: this,
      fence: undefined,
    };
  }

  /** Opens the KV at `options.path` and the store on it; a KV a newer engine wrote is closed
   * again and refused with a `StoreFormatError`, one without a marker gets it (format.ts). */
  static async open(options: StoreOptions): Promise<Store> {
    const kv = await openKv(options);
    const release = options.release ?? ENGINE_VERSION;
    await ensureStoreFormat(kv, { path: options.path, release, now: options.now ?? Date.now });
    const kind = kvPathKind(options.path);
    const remote = kind === "remote";
    // Before the first write: every row the engine writes would otherwise change the index too.
    const expiryIndex = kind !== "file" ? undefined : await narrowExpiryIndex(
      options.path,
      options.narrowIndexMaxBytes === undefined ? {} : { maxBytes: options.narrowIndexMaxBytes },
    );
    const store = new Store(kv, {
      node: options.node,
      ...(options.now ? { now: options.now } : {}),
      maxChecks: remote ? 10 : 100,
    });
    store.expiryIndex = expiryIndex;
    await store.#raiseIdFloor();
    return store;
  }

  /** Batches committed, writes in them and rows they changed, for metrics. */
  get commitStats(): { batches: number; writes: number; mutations: number } {
    const c = this.#committer;
    return { batches: c.batches, writes: c.writes, mutations: c.mutations };
  }

  /**
   * Tells `observer` how long each group commit was in KV, in seconds (see
   * `GroupCommitter.onCommitted`); one observer at a time.
   */
  observeCommits(observer: (seconds: number) => void): void {
    this.#committer.onCommitted = observer;
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
    this.#ctx.fence = fence;
  }

  /** One page of logs, newest first; see {@link listLogs}. */
  listLogs(filter: LogFilter = {}): Promise<LogPage> {
    return listLogs(this.kv, filter);
  }

  /** RECEIVE logs whose payload a predicate accepts, by a bounded scan; see {@link searchPayloads}. */
  searchPayloads(search: PayloadSearch): Promise<PayloadSearchPage> {
    return searchPayloads(this.kv, this.dictionaries, search);
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

  /**
   * This store's id generator, for the cluster's heartbeat: it carries the newest id and keeps
   * later ids after other nodes' (their clocks may be ahead).
   */
  get idGenerator(): Pick<IdGenerator, "newest" | "observe"> {
    return this.#ids;
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
    return this.#accept(request);
  }

  /**
   * {@link accept} itself: what it calls again for a message that waited for another under its
   * dedupe key, so that the call counts once where `accept` is wrapped (the engine's metrics).
   */
  #accept(request: AcceptRequest): Promise<AcceptResult> {
    const dedupe = request.dedupe;
    if (!dedupe) return acceptMessage(this.#ctx, request);
    const flight = `${dedupe.scope}\u0000${dedupe.key}`;
    const earlier = this.#inflightDedupe.get(flight);
    if (earlier && dedupe.sameMessage && !dedupe.sameMessage(earlier.payload)) {
      // Another message under the key being stored (a sender reusing it): stored after that one,
      // which the dedupe record then names, so this one is told apart from it there.
      const after = () => this.#accept(request);
      return earlier.promise.then(after, after);
    }
    if (earlier) {
      // The same message is being stored right now (a sender retry): answer it like a duplicate,
      // with the ACK stored for the first copy, as every later repeat will get.
      return earlier.promise.then((r) =>
        r.status === "stored"
          ? { status: "duplicate", messageId: r.messageId, ack: earlier.ack }
          : r
      );
    }
    const promise = acceptMessage(this.#ctx, request).finally(() =>
      this.#inflightDedupe.delete(flight)
    );
    this.#inflightDedupe.set(flight, { promise, ack: dedupe.ack, payload: request.payload });
    return promise;
  }

  /**
   * A translation of `originalId` made ready for the commit that routes it (`derived` of
   * {@link route}, of {@link accept}): its id, its record, its payload and the rows that store it.
   * A small payload writes nothing before that commit (deflated after the dictionary of
   * `options.dictionary`, once there is one); a large one's chunks are written now, pending until
   * it. See intake.ts.
   */
  prepareDerived(
    originalId: string,
    payload: Uint8Array,
    contentType: string,
    options: { dictionary?: { sender: string; kind: string } } = {},
  ): Promise<DerivedMessage> {
    return prepareDerived(this.#ctx, originalId, payload, contentType, options);
  }

  /**
   * The first `limit` entries of a queue, in order (those after the seq `after`, if given), as
   * its actor reads them. An entry that cannot be read (another version's, or damaged) is taken
   * out of the queue into its dead-letter list on the way, with an ERROR `queue.unreadable-entry`
   * (see queue_repair.ts). A look that is not the actor's read (a listing, a skip) uses
   * {@link look} instead.
   */
  peek(queue: string, limit = 1, after?: string): Promise<QueueHead[]> {
    return peekQueue(this.#ctx, queue, limit, after).catch(this.#damaged);
  }

  /**
   * The first entry of `queue` as an operator looks at it (a listing of the actor, the head a skip
   * moves aside), or undefined when the queue is empty. Nothing is set aside: an unreadable entry
   * comes back flagged `unreadable` with why, and {@link deadLetter} of it sets that very entry
   * aside — not the message behind it.
   */
  look(queue: string): Promise<QueueLook | undefined> {
    return lookAtHead(this.#ctx, queue);
  }

  /**
   * Takes an unreadable entry of `queue` out into its dead-letter list and logs an ERROR
   * `queue.unreadable-entry` naming the key, why, and the raw value (clipped). False if the entry
   * changed or went meanwhile.
   */
  setAside(queue: string, e: Deno.KvEntry<unknown>, why: string): Promise<boolean> {
    return setAside(this.#ctx, queue, e, why);
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
  depth(queue: string): Promise<number> {
    return queueDepth(this.kv, queue);
  }

  /** Every queue that holds entries, with its depth: what must be restored at start. */
  nonEmptyQueues(): Promise<Map<string, number>> {
    return nonEmptyQueues(this.kv);
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
  routeEntries(
    head: QueueHead,
    deliveries: Delivery[],
    receive: LogUpdate,
    options: { log?: LogRecord; derived?: readonly DerivedMessage[] } = {},
  ): Promise<RoutedEntry[] | undefined> {
    return routeHead(this.#ctx, head, deliveries, receive, options);
  }

  /**
   * Delivery succeeded: removes the head and marks its log SUCCEEDED with the final attempt, in
   * one atomic step. False if the head was already gone (skipped by an operator meanwhile); a
   * `FencedError` (leases.ts) if this node's lease of the queue is not the one in KV.
   */
  async complete(
    head: QueueHead,
    attempt: Omit<Attempt, "n">,
    options: { log?: LogRecord } = {},
  ): Promise<boolean> {
    return await completeHead(this.#ctx, head, attempt, options.log);
  }

  /**
   * Moves the head aside to the dead-letter list and marks its log FAILED, saying who and why.
   * False if the head was already gone; a `FencedError` (leases.ts) if this node's lease of the
   * queue is not the one in KV. A {@link look} flagged `unreadable` is set aside as it is (its raw
   * value kept, with `by` and `reason`): it has no log to mark.
   */
  async deadLetter(
    head: QueueHead | QueueLook,
    by: string,
    reason: string,
    attempt?: Omit<Attempt, "n">,
  ): Promise<boolean> {
    if ((head as QueueLook).unreadable) return await setAsideLook(this.#ctx, head, by, reason);
    return await deadLetterHead(this.#ctx, head, by, reason, attempt);
  }

  /**
   * Sends a dead-lettered message back to the tail of the queue it was taken from (an inbound
   * queue to be parsed and routed again, or a destination's queue to be delivered again), with
   * its log PENDING again and who asked and why recorded. Refused with a reason when the log is
   * not in a dead-letter list.
   */
  reprocess(
    logId: string,
    by: string,
    reason: string,
  ): Promise<{ ok: true; queue: string; log: LogRecord } | { ok: false; error: string }> {
    return reprocess(this.#ctx, logId, by, reason);
  }

  /** Records a failed attempt on a log; the head stays in its queue. */
  async recordAttempt(logId: string, attempt: Omit<Attempt, "n">): Promise<void> {
    await changeLog(this.#ctx, logId, { attempt });
  }

  /** Changes a log's status (e.g. a RECEIVE log that failed to parse). */
  updateLog(logId: string, update: LogUpdate): Promise<LogRecord | null> {
    return changeLog(this.#ctx, logId, update);
  }

  /** A log by id. */
  getLog(id: string): Promise<LogRecord | null> {
    return readLog(this.kv, id);
  }

  /** Several logs by id, in the same order (null where missing). */
  getLogs(ids: string[]): Promise<(LogRecord | null)[]> {
    return getValues<LogRecord>(this.kv, ids.map(keys.log)).catch(this.#damaged);
  }
  /** The logs of one message (its RECEIVE log and one SEND log per destination). */
  logsOfMessage(messageId: string): Promise<LogRecord[]> {
    return logsOfMessage(this.kv, messageId);
  }

  /** A message record by id. */
  async getMessage(id: string): Promise<MessageRecord | null> {
    return (await this.kv.get<MessageRecord>(keys.message(id))).value;
  }

  /** Several message records by id, in the same order (null where missing). */
  getMessages(ids: string[]): Promise<(MessageRecord | null)[]> {
    return getValues<MessageRecord>(this.kv, ids.map(keys.message)).catch(this.#damaged);
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
  deadLetters(
    queue: string,
    limit = 100,
  ): Promise<DeadLetter[]> {
    return listDeadLetters(this.kv, queue, limit);
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
