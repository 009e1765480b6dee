/**
 * Group commit: concurrent writers share one KV atomic operation. Each write is a set of checks
 * and mutations; a batch is flushed as soon as no commit is in flight, so under load many writes
 * ride on one fsync, and alone a write waits for nothing. Each caller learns whether its own
 * write is durable. KV commits one operation at a time, so the time between two commits is lost
 * to it: the next batch's operation is built while the last one commits, and sent before that
 * one's writers are told.
 * @module
 */

import { isStorageFault, StoreUnavailableError } from "./health.ts";
import { withKvRetry } from "./kv.ts";

/** One caller's share of a batch. Everything in it commits together or not at all. */
export interface Write {
  checks?: Deno.AtomicCheck[];
  sets?: { key: Deno.KvKey; value: unknown; expireIn?: number }[];
  deletes?: Deno.KvKey[];
  sums?: { key: Deno.KvKey; n: bigint }[];
  /** Approximate encoded size, to keep a batch under the atomic size limit. */
  bytes: number;
}

/** What happened to a write. */
export type WriteOutcome = { ok: true; versionstamp: string } | { ok: false; reason: "check" };

/** Limits of one atomic operation. */
export interface GroupCommitLimits {
  /** Default 800 KiB less headroom. */
  maxBytes?: number;
  /** Default 1000. */
  maxMutations?: number;
  /** Default 100 (a self-hosted denokv allows 10). */
  maxChecks?: number;
}

interface Pending {
  write: Write;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

/**
 * A batch being gathered: its atomic operation is built as its writes come (each value
 * serialized then), so that once the commit in flight is answered the next one only has to be
 * sent, not built, while KV waits.
 */
interface Gathering {
  readonly pending: Pending[];
  /** Undefined once a write could not be added (a value KV cannot serialize): built at commit. */
  op: Deno.AtomicOperation | undefined;
  bytes: number;
  /** Mutations by the limits' count (each sum counted). */
  mutations: number;
  checks: number;
  /** Rows set or deleted so far (sums are added at commit, one per counter). */
  rows: number;
  readonly changed: ChangedKeys;
  readonly checked: CheckSet;
  readonly sums: Sums;
}

const U64_MAX = (1n << 64n) - 1n;

/** Told the fate of every commit: how the store's health learns that KV can (not) commit. */
export interface CommitObserver {
  succeeded(): void;
  failed(error: unknown): void;
  /** An error to refuse every commit with, without trying KV (a damaged file). */
  refusal?(): Error | undefined;
}

/** Batches writes into shared atomics; see the module doc. */
export class GroupCommitter {
  readonly #kv: Deno.Kv;
  readonly #observer: CommitObserver | undefined;
  readonly #maxBytes: number;
  readonly #maxMutations: number;
  readonly #maxChecks: number;
  /** Batches not yet sent, oldest first; only the last one takes new writes. */
  #queue: Gathering[] = [];
  #flushing = false;
  #scheduled = false;
  /** Batches committed so far (for metrics and tests). */
  batches = 0;
  /** Writes committed so far. */
  writes = 0;
  /** Rows set, deleted or summed by those commits (sums on one counter count once per batch). */
  mutations = 0;
  /**
   * Told how long each commit was in KV, in seconds: from sending its atomic operation to the
   * answer (retries included; a refused check or an error as well).
   */
  onCommitted: ((seconds: number) => void) | undefined;

  /** Commits into `kv` within `limits`, reporting each commit's fate to `observer`. */
  constructor(kv: Deno.Kv, limits: GroupCommitLimits = {}, observer?: CommitObserver) {
    this.#kv = kv;
    this.#observer = observer;
    this.#maxBytes = limits.maxBytes ?? 760 * 1024;
    this.#maxMutations = limits.maxMutations ?? 1000;
    this.#maxChecks = limits.maxChecks ?? 100;
  }

  /** Writes queued and not yet in a batch being committed. */
  get waiting(): number {
    let n = 0;
    for (const g of this.#queue) n += g.pending.length;
    return n;
  }

  /**
   * Queues a write; resolves once it is durable (or its checks failed). Rejects with a
   * {@link StoreUnavailableError} when KV cannot commit (nothing of the write was stored), or with
   * KV's error when this write alone is wrong (over a limit). Its values are serialized now (in a
   * batch with a value KV cannot serialize, when the batch is sent): do not change them until it
   * resolves (to retry after a refused check, change them and commit the write again).
   */
  commit(write: Write): Promise<WriteOutcome> {
    if (
      mutationCount(write) > this.#maxMutations || (write.checks?.length ?? 0) > this.#maxChecks
    ) {
      return Promise.reject(new RangeError("write exceeds the limits of one atomic operation"));
    }
    const refused = this.#observer?.refusal?.();
    if (refused) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.#gather({ write, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#flushing || this.#scheduled) return;
    this.#scheduled = true;
    // A microtask lets writes issued in the same turn join the batch without adding latency.
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    /** Tells the writers of the batch committed last that it is durable. */
    let settle: (() => void) | undefined;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.shift()!;
        // The next batch goes to KV before the last one's writers are told: what they do next
        // (ACKs written to sockets, the actors' next steps) then runs while KV commits, instead
        // of keeping KV idle between two commits. Only the telling waits: the commits stay one
        // at a time and in the order the writes came.
        const committed = this.#commitBatch(batch);
        const tell = settle;
        settle = undefined;
        tell?.();
        settle = await committed;
      }
    } finally {
      this.#flushing = false;
      settle?.();
    }
  }

  /** Adds `pending` to the last batch, or to a new one when it does not fit there. */
  #gather(pending: Pending): void {
    const w = pending.write;
    let g = this.#queue[this.#queue.length - 1];
    const b = w.bytes, m = mutationCount(w);
    // Keys the batch so far changes. An atomic operation runs every check before any mutation, so
    // a write checking one of them would not see the earlier write (two routes of one queue head
    // would both pass): it goes to the next batch, which makes a batch commit as if one by one.
    if (
      !g || g.bytes + b > this.#maxBytes || g.mutations + m > this.#maxMutations ||
      g.checks + newChecks(w, g.checked) > this.#maxChecks ||
      (w.checks?.some((k) => g!.changed.has(k.key)) ?? false)
    ) {
      g = {
        pending: [],
        op: this.#kv.atomic(),
        bytes: 0,
        mutations: 0,
        checks: 0,
        rows: 0,
        changed: new ChangedKeys(),
        checked: new CheckSet(),
        sums: new Sums(),
      };
      this.#queue.push(g);
    }
    g.checks += newChecks(w, g.checked);
    g.pending.push(pending);
    g.bytes += b;
    g.mutations += m;
    g.changed.add(w);
    if (g.op) {
      try {
        g.rows += addWrite(g.op, w, g.checked, g.sums);
        return;
      } catch {
        // Built again at commit, where the write that cannot be stored is refused alone.
        g.op = undefined;
      }
    }
    for (const k of w.checks ?? []) g.checked.add(k);
  }

  /**
   * Commits `batch` (its operation as gathered, or built now). A batch that committed whole is
   * told by the function it resolves to (see {@link #flush}); every other outcome (a refused
   * check, an error) is told before it resolves.
   */
  #commitBatch(batch: Gathering): Promise<(() => void) | undefined> {
    const { op } = batch;
    if (!op) return this.#commitWrites(batch.pending);
    return this.#send(batch.pending, op, batch.rows + batch.sums.addTo(op));
  }

  /** Commits `batch` in an operation built now. */
  async #commitWrites(batch: Pending[]): Promise<(() => void) | undefined> {
    let op: Deno.AtomicOperation, mutations: number;
    try {
      ({ op, mutations } = this.#atomic(batch.map((p) => p.write)));
    } catch (error) {
      // A value KV cannot store (it serializes each as it is set): not a storage fault.
      return await this.#refuseAlone(batch, error);
    }
    return await this.#send(batch, op, mutations);
  }

  /** Sends `op`, which holds the writes of `batch` and `mutations` rows, and tells the outcome. */
  async #send(
    batch: Pending[],
    op: Deno.AtomicOperation,
    mutations: number,
  ): Promise<(() => void) | undefined> {
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    const sent = performance.now();
    try {
      // A retry (KV busy) sends the same operation again: committing it leaves it as it was.
      result = await withKvRetry(() => op.commit());
    } catch (error) {
      this.onCommitted?.((performance.now() - sent) / 1000);
      if (isStorageFault(error)) {
        this.#observer?.failed(error);
        const refused = new StoreUnavailableError(error);
        for (const p of batch) p.reject(refused);
        return undefined;
      }
      // One write over a limit fails the whole atomic.
      return await this.#refuseAlone(batch, error);
    }
    this.onCommitted?.((performance.now() - sent) / 1000);
    if (result.ok) {
      // Only a commit that wrote says the disk takes writes: a refused check writes nothing, and
      // KV answers it on a full disk as well.
      this.#observer?.succeeded();
      this.batches++;
      this.writes += batch.length;
      this.mutations += mutations;
      const outcome: WriteOutcome = { ok: true, versionstamp: result.versionstamp };
      return () => {
        for (const p of batch) p.resolve(outcome);
      };
    }
    if (batch.length === 1) {
      batch[0]!.resolve({ ok: false, reason: "check" });
      return undefined;
    }
    // Some write's check failed: commit one by one so only that write is refused.
    return await this.#oneByOne(batch);
  }

  /** Commits each write of `batch` alone, each told before the next is sent. */
  async #oneByOne(batch: Pending[]): Promise<undefined> {
    for (const p of batch) (await this.#commitWrites([p]))?.();
    return undefined;
  }

  /** A write of `batch` is wrong (`error`): each commits alone, so only that one is refused. */
  async #refuseAlone(batch: Pending[], error: unknown): Promise<undefined> {
    if (batch.length > 1) return await this.#oneByOne(batch);
    batch[0]!.reject(error);
    return undefined;
  }

  /** One atomic operation for `writes`, and the rows it changes. */
  #atomic(writes: Write[]): { op: Deno.AtomicOperation; mutations: number } {
    const op = this.#kv.atomic();
    let mutations = 0;
    const checked = new CheckSet();
    const sums = new Sums();
    for (const w of writes) mutations += addWrite(op, w, checked, sums);
    return { op, mutations: mutations + sums.addTo(op) };
  }
}

/**
 * Adds `w` to `op`: its checks not in `checked` yet (the same check made by several writes, as
 * each completion of one queue carries its lease's, is made once: checks run before any
 * mutation, so once is the same as many times), its sets and deletes, and its sums to `sums`.
 * Returns the rows it added. Throws when a value cannot be serialized (`op` is then unusable).
 */
function addWrite(op: Deno.AtomicOperation, w: Write, checked: CheckSet, sums: Sums): number {
  for (const k of w.checks ?? []) if (checked.add(k)) op.check(k);
  for (const s of w.sets ?? []) {
    op.set(s.key, s.value, s.expireIn !== undefined ? { expireIn: s.expireIn } : undefined);
  }
  for (const k of w.deletes ?? []) op.delete(k);
  let rows = (w.sets?.length ?? 0) + (w.deletes?.length ?? 0);
  for (const s of w.sums ?? []) if (!sums.add(s.key, s.n)) rows += addSum(op, s.key, s.n);
  return rows;
}

/**
 * Sums on counters named by strings only (a queue's depth), added up per counter and batch: one
 * mutation per counter instead of one per write, the same result since sums commute.
 */
class Sums {
  readonly #sums = new Map<string, { key: Deno.KvKey; n: bigint }>();

  /** Adds `n` to `key`'s total; false for a key not made of strings (sum it at once). */
  add(key: Deno.KvKey, n: bigint): boolean {
    const id = stringKeyId(key);
    if (id === undefined) return false;
    const seen = this.#sums.get(id);
    if (seen) seen.n += n;
    else this.#sums.set(id, { key, n });
    return true;
  }

  /** Adds the totals that are not zero to `op`; returns how many. */
  addTo(op: Deno.AtomicOperation): number {
    let rows = 0;
    for (const s of this.#sums.values()) if (s.n !== 0n) rows += addSum(op, s.key, s.n);
    return rows;
  }
}

/** Adds `n` (which may be negative) to the counter at `key`; returns 1, the row it changes. */
function addSum(op: Deno.AtomicOperation, key: Deno.KvKey, n: bigint): number {
  // KvU64 sums wrap, so subtracting n is adding 2^64 - n.
  op.sum(key, n >= 0n ? n & U64_MAX : (U64_MAX + 1n + (n % (U64_MAX + 1n))) & U64_MAX);
  return 1;
}

/**
 * Keys kept in groups by a cheap value (a key's first part, a check's versionstamp); one is found
 * by comparing the keys of its group part by part, so no string is built from a key on the hot
 * path.
 */
class KeyGroups {
  readonly #groups = new Map<unknown, Deno.KvKey[]>();

  /** Appends `key` to `group` without looking for it there (a repeat costs only a comparison). */
  put(group: unknown, key: Deno.KvKey): void {
    const list = this.#groups.get(group);
    if (list) list.push(key);
    else this.#groups.set(group, [key]);
  }

  /** Adds `key` to `group`; false when it was there already. */
  add(group: unknown, key: Deno.KvKey): boolean {
    const list = this.#groups.get(group);
    if (!list) this.#groups.set(group, [key]);
    else if (list.some((k) => sameKey(k, key))) return false;
    else list.push(key);
    return true;
  }

  has(group: unknown, key: Deno.KvKey): boolean {
    return this.#groups.get(group)?.some((k) => sameKey(k, key)) ?? false;
  }
}

/** Checks a batch makes, grouped by the versionstamp they expect. */
class CheckSet {
  readonly #keys = new KeyGroups();

  /** Adds `check`; false when it was made already. */
  add(check: Deno.AtomicCheck): boolean {
    return this.#keys.add(check.versionstamp, check.key);
  }

  has(check: Deno.AtomicCheck): boolean {
    return this.#keys.has(check.versionstamp, check.key);
  }
}

/** How many checks `write` adds to a batch already making the checks `checked`. */
function newChecks(write: Write, checked: CheckSet): number {
  let n = 0;
  for (const k of write.checks ?? []) if (!checked.has(k)) n++;
  return n;
}

/** An identity for a key made of strings only (counter keys are); undefined otherwise. */
function stringKeyId(key: Deno.KvKey): string | undefined {
  let id = "";
  for (const part of key) {
    if (typeof part !== "string") return undefined;
    id += part.length + ":" + part;
  }
  return id;
}

/**
 * Keys a batch changes, grouped by their first part (a constant such as "q" or "dedupe", cheap to
 * hash, unlike the ids that end most keys).
 */
class ChangedKeys {
  readonly #keys = new KeyGroups();

  add(write: Write): void {
    // Appended, not looked up: most are never asked for (only checked keys are).
    for (const s of write.sets ?? []) this.#keys.put(firstPart(s.key), s.key);
    for (const k of write.deletes ?? []) this.#keys.put(firstPart(k), k);
    for (const s of write.sums ?? []) this.#keys.put(firstPart(s.key), s.key);
  }

  has(key: Deno.KvKey): boolean {
    return this.#keys.has(firstPart(key), key);
  }
}

function firstPart(key: Deno.KvKey): unknown {
  const first = key[0];
  // Byte arrays go by content, not identity (a shared group only costs a comparison).
  return first instanceof Uint8Array ? `u${first.join(",")}` : first;
}

function sameKey(a: Deno.KvKey, b: Deno.KvKey): boolean {
  if (a.length !== b.length) return false;
  // From the end: keys compared here mostly share their first part (grouped by it, or checked at
  // one versionstamp) and end in an id of their own, so two keys differ at the first comparison.
  for (let i = a.length - 1; i >= 0; i--) {
    const x = a[i], y = b[i];
    if (x instanceof Uint8Array && y instanceof Uint8Array) {
      if (x.length !== y.length || x.some((v, j) => v !== y[j])) return false;
    } else if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return false;
  }
  return true;
}

function mutationCount(w: Write): number {
  return (w.sets?.length ?? 0) + (w.deletes?.length ?? 0) + (w.sums?.length ?? 0);
}
