/**
 * The KV integrity check's thread: `integrity_check.ts` starts it as a Worker and posts it one
 * {@link IntegrityRequest}. It opens the SQLite file read-only with `node:sqlite`, runs
 * `PRAGMA quick_check`, posts one {@link IntegrityAnswer} and ends. The engine's own connection
 * goes on committing meanwhile: the file is in WAL mode, so this reader holds one snapshot and
 * blocks no writer (only checkpoints past its snapshot wait until it ends).
 * @module
 */

/// <reference lib="deno.worker" />

import { loadSqlite, type SqliteDatabase, type SqliteModule } from "./node_sqlite.ts";

/** What the check is asked. */
export interface IntegrityRequest {
  /** The SQLite file. */
  file: string;
  /** Problems SQLite lists at most (`PRAGMA quick_check(N)`). */
  maxProblems: number;
  /** How long opening waits for a lock another connection holds (ms). */
  busyTimeoutMs: number;
}

/**
 * What it found: `problems` is `[]` for a sound file. `error` is set when SQLite refused to open
 * or read the file at all (the caller tells damage, "file is not a database", from a lock or a
 * missing `node:sqlite`).
 */
export interface IntegrityAnswer {
  problems?: string[];
  error?: string;
  ms: number;
}

self.onmessage = async (event: MessageEvent<IntegrityRequest>) => {
  const { file, maxProblems, busyTimeoutMs } = event.data;
  const start = performance.now();
  const answer = (a: Omit<IntegrityAnswer, "ms">) => {
    self.postMessage({ ...a, ms: Math.round(performance.now() - start) });
    self.close();
  };
  let sqlite: SqliteModule;
  try {
    sqlite = await loadSqlite();
  } catch (error) {
    return answer({ error: `node:sqlite is not available: ${messageOf(error)}` });
  }
  let db: SqliteDatabase | undefined;
  let found: Omit<IntegrityAnswer, "ms">;
  const rows: string[] = [];
  const limit = Math.max(1, Math.floor(maxProblems));
  try {
    db = new sqlite.DatabaseSync(file, { readOnly: true, timeout: busyTimeoutMs });
    // Row by row: SQLite may list problems, then fail a later step with "malformed" (all()
    // would lose the rows it had).
    for (const row of db.prepare(`PRAGMA quick_check(${limit})`).iterate()) {
      rows.push(String(Object.values(row)[0]));
    }
    found = { problems: problemsOf(rows, limit) };
  } catch (error) {
    found = rows.length > 0
      ? { problems: problemsOf([...rows, messageOf(error)], limit) }
      : { error: messageOf(error) };
  }
  try {
    db?.close();
  } catch {
    // Nothing to release.
  }
  answer(found);
};

/** SQLite's lines, one problem each ([] for "ok"): a row may hold several lines under a header. */
function problemsOf(rows: readonly string[], limit: number): string[] {
  const lines = rows.flatMap((row) => row.split("\n"))
    .filter((line) => line !== "" && !line.startsWith("*** in database"));
  return lines.length === 1 && lines[0] === "ok" ? [] : lines.slice(0, limit);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
