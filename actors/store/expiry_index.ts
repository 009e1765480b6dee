/**
 * Deno KV's expiry index narrowed to the rows that expire. Deno KV's SQLite file indexes every
 * row by its expiry (`kv_expiration_ms_idx on kv (expiration_ms)`), rows that never expire too
 * (`-1`), although it only ever reads that index for rows that do (`where expiration_ms >= 0`, to
 * delete expired keys and to find the next one due). So every row written, rewritten or deleted
 * changes two B-trees: the table and this index. Where the key lands at random (a dedupe record,
 * keyed by the sender's control id), that is one more random page per write, written to the WAL,
 * synced and copied back by the checkpoint. The engine sets no expiry on messages, logs, queue
 * entries or dedupe records, so it replaces the index with the same one limited to
 * `expiration_ms >= 0` (a partial index: SQLite still uses it for both of Deno's queries, which
 * carry that very term, and keeps it only for the rows that expire).
 *
 * Building an index reads every row of the table under SQLite's write lock, so a file past
 * {@link NARROW_AT_START_MAX_BYTES} is left as it is at start (the caller says so, and how to
 * narrow it while the engine is stopped: `main.ts kv-index CONFIG`).
 * @module
 */

import type { Logger } from "../runtime/log.ts";
import { loadSqlite, type SqliteDatabase } from "./node_sqlite.ts";

/** Deno KV's index of rows by expiry (the name its schema gives it). */
export const EXPIRY_INDEX = "kv_expiration_ms_idx";

/** The index as the engine wants it. */
const NARROW_SQL = `CREATE INDEX ${EXPIRY_INDEX} ON kv (expiration_ms) WHERE expiration_ms >= 0`;

/**
 * Largest KV file (with its WAL) narrowed when the engine starts: building the index reads the
 * whole file under the write lock (~1 s per GiB on the machines the README measures on).
 */
export const NARROW_AT_START_MAX_BYTES = 1024 * 1024 * 1024;

/** What {@link narrowExpiryIndex} found or did. */
export type ExpiryIndexOutcome =
  /** Replaced by the narrow one, in `ms`. */
  | { status: "narrowed"; ms: number }
  /** Narrow already (nothing done). */
  | { status: "narrow" }
  /** No such index: not a Deno KV file as the engine knows it (nothing done). */
  | { status: "absent" }
  /** Left as it is: the file is larger than `limitBytes`. */
  | { status: "skipped"; bytes: number; limitBytes: number }
  /** Left as it is: SQLite refused (locked past the timeout, read-only, no `node:sqlite`). */
  | { status: "failed"; error: string };

/** How {@link narrowExpiryIndex} goes about it. */
export interface NarrowOptions {
  /** A file (with its WAL) larger than this is skipped; default {@link NARROW_AT_START_MAX_BYTES}. */
  maxBytes?: number;
  /** How long to wait for a write lock another connection holds, ms; default 5,000. */
  busyTimeoutMs?: number;
}

/**
 * Narrows Deno KV's expiry index in the SQLite file at `path` (see the module doc); never throws.
 * Safe while a `Deno.Kv` has the file open (in this process or another): the change is one
 * transaction under the write lock, and the other connections pick up the new schema.
 *
 * @example
 * ```ts ignore
 * const outcome = await narrowExpiryIndex("data/engine.kv");
 * if (outcome.status === "skipped") console.warn(`kept: ${outcome.bytes} bytes`);
 * ```
 */
export async function narrowExpiryIndex(
  path: string,
  options: NarrowOptions = {},
): Promise<ExpiryIndexOutcome> {
  const limitBytes = options.maxBytes ?? NARROW_AT_START_MAX_BYTES;
  let db: SqliteDatabase | undefined;
  try {
    const { DatabaseSync } = await loadSqlite();
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
    const state = indexState(db);
    if (state !== "full") return { status: state };
    const bytes = fileBytes(path) + fileBytes(`${path}-wal`);
    if (bytes > limitBytes) return { status: "skipped", bytes, limitBytes };
    const start = performance.now();
    db.exec("BEGIN IMMEDIATE");
    try {
      // Looked at again under the lock: another process may have narrowed it meanwhile.
      if (indexState(db) === "full") db.exec(`DROP INDEX ${EXPIRY_INDEX}; ${NARROW_SQL}`);
      db.exec("COMMIT");
    } catch (error) {
      try {
        db.exec("ROLLBACK");
      } catch {
        // SQLite rolled it back itself.
      }
      throw error;
    }
    return { status: "narrowed", ms: Math.round(performance.now() - start) };
  } catch (error) {
    return { status: "failed", error: error instanceof Error ? error.message : String(error) };
  } finally {
    try {
      db?.close();
    } catch {
      // Nothing to release.
    }
  }
}

/** Whether the expiry index covers every row (`full`), only expiring ones, or is not there. */
function indexState(db: SqliteDatabase): "full" | "narrow" | "absent" {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?")
    .get(EXPIRY_INDEX);
  if (!row || typeof row.sql !== "string") return "absent";
  return /\bwhere\b/i.test(row.sql) ? "narrow" : "full";
}

/** A file's size in bytes, 0 when it is not there. */
function fileBytes(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Says what {@link narrowExpiryIndex} did when the engine opened its store: INFO once narrowed,
 * WARN when the index was kept over every row (with why, and what to do), nothing otherwise.
 */
export function reportExpiryIndex(outcome: ExpiryIndexOutcome | undefined, log: Logger): void {
  if (outcome?.status === "narrowed") {
    log.info("kv.expiry-index-narrowed", {
      ms: outcome.ms,
      why: "rows that never expire no longer change Deno KV's expiry index",
    });
  } else if (outcome?.status === "skipped") {
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
    log.warn("kv.expiry-index-kept", {
      reason: `the KV file is ${gib(outcome.bytes)}, over the ${gib(outcome.limitBytes)} ` +
        "narrowed at start (it reads every row under the write lock, ~1 s a GiB): every write " +
        "changes Deno KV's expiry index too",
      hint: "stop the engine and run: main.ts kv-index CONFIG",
    });
  } else if (outcome?.status === "failed") {
    log.warn("kv.expiry-index-kept", {
      reason: `could not narrow Deno KV's expiry index: ${outcome.error}`,
      hint: "every write changes that index too; main.ts kv-index CONFIG tries again",
    });
  }
}
