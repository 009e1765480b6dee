/**
 * `node:sqlite`, for the few places that open the KV file as SQLite itself (the integrity check,
 * the backup, the expiry index), typed here once: the project's `@types/node` (brought in by an
 * npm package's types) predates the module. Imported by name at run time, so a runtime without
 * it fails only the caller that asks, with the import's error.
 * @module
 */

/** A prepared statement: the calls the engine makes. */
export interface SqliteStatement {
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Record<string, unknown>[];
  iterate(...params: unknown[]): Iterable<Record<string, unknown>>;
  run(...params: unknown[]): unknown;
}

/** An open SQLite file. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  close(): void;
}

/** How a file is opened: `timeout` is how long to wait for a lock another connection holds (ms). */
export interface SqliteOpenOptions {
  readOnly?: boolean;
  timeout?: number;
}

/** The module's part the engine uses. */
export interface SqliteModule {
  DatabaseSync: new (file: string, options?: SqliteOpenOptions) => SqliteDatabase;
}

const SQLITE = "node:sqlite";

/**
 * Loads `node:sqlite`; rejects with the import's error where the runtime lacks it.
 *
 * @example
 * ```ts ignore
 * const { DatabaseSync } = await loadSqlite();
 * const db = new DatabaseSync("data/engine.kv", { readOnly: true, timeout: 5000 });
 * ```
 */
export async function loadSqlite(): Promise<SqliteModule> {
  return await import(SQLITE) as SqliteModule;
}
