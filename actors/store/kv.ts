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

/** Opens the KV; creates the folder of a local file. */
export async function openKv(options: KvOptions): Promise<Deno.Kv> {
  const { path } = options;
  if (/^https?:\/\//.test(path)) {
    if (options.accessToken) Deno.env.set("DENO_KV_ACCESS_TOKEN", options.accessToken);
    return await Deno.openKv(path);
  }
  if (path === ":memory:") return await Deno.openKv(":memory:");
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
   */
  budgetMs?: number;
}

/**
 * Runs `op`, retrying with jittered exponential backoff while the database is locked. When the lock
 * is still held at the end of the budget, the error says for how long, and still matches
 * {@link isLockedError}.
 */
export async function withKvRetry<T>(op: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 20;
  const base = options.baseMs ?? 2;
  const max = options.maxMs ?? 250;
  const budget = options.budgetMs ?? 10_000;
  const start = Date.now();
  for (let i = 1;; i++) {
    try {
      return await op();
    } catch (error) {
      if (!isLockedError(error)) throw error;
      const waited = Date.now() - start;
      if (i >= attempts || waited >= budget) {
        throw new Error(
          `the KV file stayed locked by another process for ${(waited / 1000).toFixed(1)} s ` +
            `over ${i} attempts (database is locked)`,
          { cause: error },
        );
      }
      const ceiling = Math.min(max, base * 2 ** i);
      await new Promise((r) => setTimeout(r, ceiling / 2 + Math.random() * ceiling / 2));
    }
  }
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
