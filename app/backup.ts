/**
 * `main.ts backup CONFIG OUT`: a transactionally consistent copy of the config's local KV file,
 * taken while the engine keeps running, by SQLite itself: `VACUUM INTO` on a read-only
 * `node:sqlite` connection. The copy is one read transaction, so it holds exactly what was
 * committed when it began (every message acknowledged by then) and nothing half-written; the
 * engine's commits go on meanwhile (the file is in WAL mode: a reader blocks no writer), but SQLite
 * cannot fold the WAL back into the file past the copy's snapshot until the copy ends, so the WAL
 * grows by what is committed meanwhile.
 *
 * Why `VACUUM INTO` and not the online backup API (`backup()` of `node:sqlite`, which Deno 2.9.6
 * has): measured on a 321 MB KV file with a writer committing ~300 times a second, the backup API
 * in steps (its default) starts over whenever another process commits, and finished only once the
 * writer stopped (10.7 s); in one step (`rate: -1`) it is the same one read transaction as
 * `VACUUM INTO` and about as fast (1.5–2.0 s against 1.9–2.3 s), but copies pages as they are, a
 * damaged one included. `VACUUM INTO` reads every row through its b-tree (damage fails the backup
 * instead of being copied) and writes a compact file (free pages left out). Both run on the
 * calling thread: fine for a CLI process, which has nothing else to do meanwhile.
 *
 * The copy is written to `OUT.part` (mode 600: it holds patient data), opened as a KV and counted
 * (messages, queued entries: actors/store/copy_counts.ts), fsynced, then renamed to OUT (and the
 * folder fsynced): OUT appears only once complete, one file with no `-wal` beside it. Any failure
 * removes what it wrote and says why in one line.
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import type { Config } from "../actors/config/mod.ts";
import { errorMessage } from "../actors/runtime/errors.ts";
import { type CopyCounts, countCopy, MAX_COUNTED } from "../actors/store/copy_counts.ts";
import { kvPathKind } from "../actors/store/kv.ts";
import { loadSqlite, type SqliteModule } from "../actors/store/node_sqlite.ts";
import { kvLocation } from "./config_check.ts";

/** A backup refused or failed: its message is the one line `main.ts backup` prints. */
export class BackupError extends Error {
  override name = "BackupError";
}

/** How {@link backupKv} runs. */
export interface BackupOptions {
  /** Replace an existing OUT (and a `OUT.part` left by an interrupted backup). */
  force?: boolean;
  /** How long the copy waits for a lock another connection holds, default 10,000 ms. */
  lockTimeoutMs?: number;
  /** The working directory a relative `kv.path` and OUT are resolved against. */
  cwd?: string;
}

/** What a backup wrote. */
export interface BackupReport {
  /** The KV file copied (absolute). */
  source: string;
  /** The copy (absolute). */
  out: string;
  /** The copy's size in bytes. */
  bytes: number;
  /** How long the copy took (the source's WAL could not be checkpointed meanwhile), ms. */
  copyMs: number;
  /** How long counting in the copy (opened as a KV) took, ms. */
  countMs: number;
  /** Message records in the copy. */
  messages: number;
  /** Queue entries in the copy (messages waiting for a destination), by queue. */
  queued: Record<string, number>;
  /** The source's `-wal` size before and after the copy, bytes (0 when there is none). */
  wal: { before: number; after: number };
}

/**
 * Copies the config's local KV file to `out` (see the module doc). Rejects with a
 * {@link BackupError} saying why: `:memory:` or a KV Connect URL (nothing local to copy), no KV
 * file yet, OUT's folder missing, OUT existing without `force`, the file locked beyond
 * `lockTimeoutMs`, the disk full, a copy that does not open.
 */
export async function backupKv(
  config: Config,
  out: string,
  options: BackupOptions = {},
): Promise<BackupReport> {
  const cwd = options.cwd ?? Deno.cwd();
  const kvPath = config.kv.path;
  const kind = kvPathKind(kvPath);
  if (kind === "memory") {
    throw new BackupError(
      "backup: kv.path is :memory:: the KV lives in the engine's memory and is gone when it " +
        "stops; there is no file to back up",
    );
  }
  if (kind === "remote") {
    throw new BackupError(
      `backup: kv.path is a KV Connect URL (${kvPath}): this command copies a local KV file ` +
        "only; back up on the KV Connect server's side instead (denokv's continuous backup to " +
        "S3-compatible storage, with point-in-time recovery)",
    );
  }
  const source = kvLocation(kvPath, cwd).absolute;
  const target = resolve(cwd, out);
  const part = `${target}.part`;
  await preflight(source, target, part, options.force === true);

  const wal = { before: await sizeOf(`${source}-wal`), after: 0 };
  let copyMs = 0;
  let counted: CopyCounts;
  // Claimed before the copy: a second backup to the same OUT is refused, not interleaved (and
  // its part is left alone).
  await claim(part, options.force === true);
  const copyStart = performance.now();
  try {
    copyMs = await vacuumInto(source, part, options.lockTimeoutMs ?? 10_000);
    wal.after = await sizeOf(`${source}-wal`);
    counted = await countOrRefuse(part);
    await fsyncFile(part);
    if (options.force) {
      // A `-wal` left beside an old OUT would be read into the new one: it goes first.
      await removeIfThere(`${target}-wal`);
      await removeIfThere(`${target}-shm`);
    }
    await Deno.rename(part, target);
    await fsyncDir(dirname(target));
  } catch (error) {
    for (const leftover of [part, `${part}-journal`, `${part}-wal`, `${part}-shm`]) {
      await removeIfThere(leftover);
    }
    if (error instanceof BackupError) throw error;
    throw new BackupError(`backup: ${failure(error, target, performance.now() - copyStart)}`);
  }
  return {
    source,
    out: target,
    bytes: (await Deno.stat(target)).size,
    copyMs,
    countMs: counted.ms,
    messages: counted.messages,
    queued: counted.queued,
    wal,
  };
}

/** What `main.ts backup` prints for a finished backup. */
export function describeBackup(r: BackupReport): string[] {
  const queuedTotal = Object.values(r.queued).reduce((a, b) => a + b, 0);
  const atLeast = (n: number) => (n >= MAX_COUNTED ? `at least ${n}` : String(n));
  const lines = [
    `backup: ${r.source} -> ${r.out}`,
    `  ${mib(r.bytes)} written in ${seconds(r.copyMs)} (VACUUM INTO, one read transaction: ` +
    "everything committed when it began)",
    `  in the copy: ${atLeast(r.messages)} messages, ${atLeast(queuedTotal)} queued entries ` +
    `(the copy opened as a KV and counted in ${seconds(r.countMs)})`,
  ];
  for (const [queue, n] of Object.entries(r.queued).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`    queued for ${queue}: ${atLeast(n)}`);
  }
  lines.push(
    "  note: while the copy read, SQLite could not checkpoint the engine's WAL past the copy's " +
      `snapshot, so ${basename(r.source)}-wal grew by what was committed meanwhile (` +
      `${mib(r.wal.before)} before, ${mib(r.wal.after)} after; it does not shrink on disk): the ` +
      "engine folds it back at its next checkpoint",
  );
  return lines;
}

/** Refusals before anything is written: no KV file, OUT's folder missing, OUT there. */
async function preflight(source: string, target: string, part: string, force: boolean) {
  try {
    const s = await Deno.stat(source);
    if (!s.isFile) throw new BackupError(`backup: ${source} (kv.path) is not a file`);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new BackupError(
        `backup: no KV file at ${source} (kv.path): nothing to back up (the engine creates it ` +
          "at its first start; a relative kv.path is relative to the working directory)",
      );
    }
    throw new BackupError(`backup: cannot read ${source}: ${errorMessage(error)}`);
  }
  const sameFile = [source, `${source}-wal`, `${source}-shm`, `${source}-journal`];
  if (sameFile.includes(target) || sameFile.includes(part)) {
    throw new BackupError(`backup: OUT ${target} is the KV file itself: name another file`);
  }
  const folder = dirname(target);
  try {
    const s = await Deno.stat(folder);
    if (!s.isDirectory) throw new BackupError(`backup: ${folder} (OUT's folder) is not a folder`);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new BackupError(
        `backup: OUT's folder ${folder} does not exist: create it first (nothing was written)`,
      );
    }
    throw new BackupError(`backup: cannot reach OUT's folder ${folder}: ${errorMessage(error)}`);
  }
  if (!force && await exists(target)) {
    throw new BackupError(
      `backup: ${target} exists: pass --force to replace it, or name another file (nothing was ` +
        "written)",
    );
  }
}

/** Creates `part` empty and new (VACUUM INTO writes only into a missing or empty file). */
async function claim(part: string, force: boolean): Promise<void> {
  if (force) {
    for (const leftover of [part, `${part}-journal`, `${part}-wal`, `${part}-shm`]) {
      await removeIfThere(leftover);
    }
  }
  try {
    // Readable by its owner only: the copy holds every message (patient data).
    (await Deno.open(part, { write: true, createNew: true, mode: 0o600 })).close();
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new BackupError(
        `backup: ${part} exists: another backup is writing it, or one was interrupted; ` +
          "remove it or pass --force",
      );
    }
    throw new BackupError(`backup: cannot create ${part}: ${errorMessage(error)}`);
  }
}

/** `VACUUM INTO part` over `source` opened read-only; returns the ms it took. */
async function vacuumInto(source: string, part: string, lockTimeoutMs: number): Promise<number> {
  let sqlite: SqliteModule;
  try {
    sqlite = await loadSqlite();
  } catch (error) {
    throw new BackupError(`backup: node:sqlite is not available: ${errorMessage(error)}`);
  }
  const start = performance.now();
  const db = new sqlite.DatabaseSync(source, { readOnly: true, timeout: lockTimeoutMs });
  try {
    // The path as a bound value: no quoting of what the operator typed.
    db.prepare("VACUUM INTO ?").run(part);
  } finally {
    db.close();
  }
  return Math.round(performance.now() - start);
}

/** {@link countCopy}, a copy that does not open said as such. */
async function countOrRefuse(file: string): Promise<CopyCounts> {
  try {
    return await countCopy(file);
  } catch (error) {
    throw new BackupError(`backup: the copy does not open as a KV: ${errorMessage(error)}`);
  }
}

/** One line for a failure SQLite or the file system reported. */
function failure(error: unknown, target: string, waitedMs: number): string {
  const message = errorMessage(error);
  if (/database is locked|SQLITE_BUSY/i.test(message)) {
    return `the KV file stayed locked by another connection (database is locked; gave up after ${
      seconds(waitedMs)
    }): try again, or wait longer with --timeout SECONDS (nothing was written)`;
  }
  if (/malformed|not a database|SQLITE_CORRUPT/i.test(message)) {
    return `the KV file is damaged (${message}): nothing was copied (a backup of a damaged file ` +
      "would carry the damage); see `main.ts check CONFIG --kv`, and restore from an earlier backup";
  }
  if (/disk is full|SQLITE_FULL|no space left/i.test(message)) {
    return `the disk holding ${target} is full (${message}): free space (the copy needs about ` +
      "the KV file's size) and try again (nothing was written)";
  }
  return `${message} (nothing was written to ${target})`;
}

async function fsyncFile(path: string): Promise<void> {
  const f = await Deno.open(path, { read: true, write: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}

/** Makes the rename durable; a system that cannot open a folder for sync (Windows) skips it. */
async function fsyncDir(path: string): Promise<void> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch {
    return;
  }
  try {
    await f.sync();
  } catch {
    // Not supported for folders here.
  } finally {
    f.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function removeIfThere(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Not there, or not ours to remove: nothing more to do.
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
