/**
 * Opening Deno KV from the config's `kv.path` (`:memory:`, a file, or a KV Connect URL) through one
 * code path, and retrying `database is locked` when several processes share a local file.
 * @module
 */

/** Where the KV lives and how to reach it. */
export interface KvOptions {
  /** `:memory:`, a file path, or an `http(s)://` KV Connect URL. */
  path: string;
  /** Access token for KV Connect; set as `DENO_KV_ACCESS_TOKEN` before opening. */
  accessToken?: string;
}

/** What a `kv.path` names: the engine's memory, a KV Connect server, or a local file. */
export type KvPathKind = "memory" | "remote" | "file";

/**
 * The one rule for what a `kv.path` names, which every part of the engine follows: exactly
 * `:memory:` is memory; `http://` or `https://` (the scheme in any case: RFC 3986 schemes are
 * case-insensitive) is a KV Connect URL; anything else is a local file path (`http:foo`, without
 * `//`, included).
 *
 * @example
 * ```ts
 * kvPathKind(":memory:"); // "memory"
 * kvPathKind("HTTPS://kv.example.org"); // "remote"
 * kvPathKind("./data/engine.kv"); // "file"
 * ```
 */
export function kvPathKind(path: string): KvPathKind {
  if (path === ":memory:") return "memory";
  if (/^https?:\/\//i.test(path)) return "remote";
  return "file";
}

/** Opens the KV; creates the folder of a local file. */
export async function openKv(options: KvOptions): Promise<Deno.Kv> {
  const { path } = options;
  const kind = kvPathKind(path);
  if (kind === "remote") {
    if (options.accessToken) Deno.env.set("DENO_KV_ACCESS_TOKEN", options.accessToken);
    // Deno.openKv knows a URL by its lower-case scheme only (it would open `HTTPS://…` as a file
    // path): the scheme is lower-cased, the rest passed as written.
    return await Deno.openKv(path.replace(/^https?/i, (s) => s.toLowerCase()));
  }
  if (kind === "memory") return await Deno.openKv(":memory:");
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  // Opening a file runs SQLite's schema set-up under the write lock, so a second process starting
  // at the same moment can see `database is locked` here too.
  return await withKvRetry(() => Deno.openKv(path), { attempts: 40 });
}

/** True for the transient error SQLite gives when another process holds the write lock. */
export function isLockedError(error: unknown): boolean {
  return error instanceof Error && /database is locked|SQLITE_BUSY/i.test(error.message);
}

/** How long {@link withKvRetry} keeps trying before giving up. */
export interface RetryOptions {
  /** Total attempts, default 20. */
  attempts?: number;
  /** First backoff in ms (doubled each time, jittered), default 2. */
  baseMs?: number;
  /** Largest single backoff in ms, default 250. */
  maxMs?: number;
  /**
   * No attempt starts once this many ms have passed since the first, default 10,000. Deno KV's
   * SQLite already waits up to 5 s for the lock inside each attempt, so the attempts alone could
   * keep a caller (and the sender waiting for its ACK) silent for minutes behind a stalled process.
   * Only time this process was awake counts: see {@link RetryOptions.attemptWaitMs}.
   */
  budgetMs?: number;
  /**
   * How long one attempt may take waiting for the lock inside SQLite, default 5,000. An attempt (or
   * a backoff) that ends more than a second later than it could have means that this process was
   * itself paused (SIGSTOP, a VM pause, a debugger): that excess does not count against the budget.
   */
  attemptWaitMs?: number;
  /** Monotonic ms clock, default `performance.now` (a manual clock in tests). */
  now?: () => number;
  /** Waits `ms`, default `setTimeout`. */
  sleep?: (ms: number) => Promise<void>;
}

// Module-level, so that every commit (each goes through withKvRetry) does not make its own.
const monotonicNow = () => performance.now();
const timerSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Lateness past which a wait is taken for this process having been paused, not for the lock. */
const PAUSE_MS = 1_000;

/** How much of a wait of `took` ms, expected to last `expected` at most, this process was paused. */
function pausedFor(took: number, expected: number): number {
  const late = took - expected;
  return late > PAUSE_MS ? late : 0;
}

/**
 * Runs `op`, retrying with jittered exponential backoff while the database is locked. When the lock
 * is still held at the end of the budget, the error says for how long, and still matches
 * {@link isLockedError}. Time this process spent paused is left out of the budget and named apart,
 * so that its own freeze is not blamed on another process.
 */
export async function withKvRetry<T>(op: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 20;
  const base = options.baseMs ?? 2;
  const max = options.maxMs ?? 250;
  const budget = options.budgetMs ?? 10_000;
  const attemptWait = options.attemptWaitMs ?? 5_000;
  const now = options.now ?? monotonicNow;
  const sleep = options.sleep ?? timerSleep;
  const start = now();
  let paused = 0;
  for (let i = 1;; i++) {
    const began = now();
    try {
      return await op();
    } catch (error) {
      if (!isLockedError(error)) throw error;
      paused += pausedFor(now() - began, attemptWait);
      const waited = now() - start - paused;
      if (i >= attempts || waited >= budget) {
        const pause = paused > 0
          ? ` (this process was itself paused for ${seconds(paused)} s meanwhile, not counted)`
          : "";
        throw new Error(
          `the KV file stayed locked by another process for ${seconds(waited)} s ` +
            `over ${i} attempts (database is locked)${pause}`,
          { cause: error },
        );
      }
      const ceiling = Math.min(max, base * 2 ** i);
      const delay = ceiling / 2 + Math.random() * ceiling / 2;
      const slept = now();
      await sleep(delay);
      paused += pausedFor(now() - slept, delay);
    }
  }
}

/** Ms as seconds with one decimal. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** Keys one `getMany` takes at most. */
const GET_MANY_MAX = 10;

/**
 * The values at `keys`, in order (null where there is none). `getMany` takes at most ten keys:
 * the groups of ten are read in parallel, not one after another.
 */
export async function getValues<T>(
  kv: Deno.Kv,
  keys: readonly Deno.KvKey[],
): Promise<(T | null)[]> {
  const groups: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += GET_MANY_MAX) {
    groups.push(kv.getMany<T[]>(keys.slice(i, i + GET_MANY_MAX)));
  }
  return (await Promise.all(groups)).flat().map((g) => g.value);
}
