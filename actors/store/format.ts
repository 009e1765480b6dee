/**
 * The store-format marker: one row (`keys.storeFormat`) saying which layout of rows a KV holds and
 * which engine release wrote it, so that an older release started on a KV a newer one wrote (an
 * operator rolling a release back) refuses to open it instead of misreading rows it does not
 * understand, as integration engines refuse a database schema newer than themselves.
 *
 * `Store.open` reads it once ({@link ensureStoreFormat}): absent (a new KV, or one written before
 * the marker existed), it is written with a check that it is still absent, so processes opening a
 * shared KV at once agree on one row; present and newer than {@link STORE_FORMAT}, the open is
 * refused with a {@link StoreFormatError}; present and older or equal, the store opens and the row
 * is left as it is.
 * @module
 */

import { keys } from "./keys.ts";
import { type KvOptions, openKv, withKvRetry } from "./kv.ts";

/**
 * The store format this engine writes and reads. Raise it by one with any change to what is
 * stored that a release of the engine reading the previous format would misread or mishandle: a
 * key layout moved, a record's field renamed or its meaning changed, a new kind of queue entry an
 * older actor would deliver wrongly. A change an older release reads correctly (a new optional
 * field it ignores, a new key prefix it never lists) does not raise it. Raising it makes every
 * older release refuse a KV this one opened; say so in the release notes.
 */
export const STORE_FORMAT = 1;

/** The marker row's value. */
export interface StoreFormatMarker {
  /** The store format of the rows in the KV ({@link STORE_FORMAT} of the release that wrote it). */
  format: number;
  /** The engine release that wrote the marker (`ENGINE_VERSION`). */
  release: string;
  /** When it was written, ms since the epoch. */
  at: number;
}

/**
 * The KV was written by a newer engine (a store format above {@link STORE_FORMAT}), or its marker
 * cannot be read: the store refuses to open it. The message says what to do, in one line.
 */
export class StoreFormatError extends Error {
  override name = "StoreFormatError";
  /** The KV refused (its path or URL as configured). */
  readonly path: string;
  /** The marker found (its raw value when it is not a marker this engine can read). */
  readonly found: unknown;
  /** The newest store format this engine reads. */
  readonly reads: number;
  /** This engine's release. */
  readonly release: string;

  constructor(path: string, found: unknown, release: string) {
    super(refusal(path, found, release));
    this.path = path;
    this.found = found;
    this.reads = STORE_FORMAT;
    this.release = release;
  }
}

function refusal(path: string, found: unknown, release: string): string {
  const advice = "start that release or newer, or restore a backup taken before the upgrade";
  if (isMarker(found)) {
    return `the KV at ${path} was written by engine ${found.release} (store format ` +
      `${found.format}); this engine (${release}) reads store format ≤ ${STORE_FORMAT}; ${advice}`;
  }
  return `the KV at ${path} has a store-format marker this engine (${release}) cannot read ` +
    `(${clip(found)}); it reads store format ≤ ${STORE_FORMAT}; it was likely written by a ` +
    `newer engine: ${advice}`;
}

function clip(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function isMarker(value: unknown): value is StoreFormatMarker {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.format === "number" && Number.isSafeInteger(v.format) && v.format >= 1 &&
    typeof v.release === "string";
}

/** The marker `value` when this engine reads its format, else undefined (a refusal). */
function readable(value: unknown): StoreFormatMarker | undefined {
  return isMarker(value) && value.format <= STORE_FORMAT ? value : undefined;
}

/** What {@link ensureStoreFormat} needs besides the KV. */
export interface StoreFormatOptions {
  /** The KV's path or URL as configured (for the refusal's message). */
  path: string;
  /** This engine's release, written in a new marker and named in a refusal. */
  release: string;
  /** The time a new marker records. */
  now: () => number;
}

/** Reads of the marker at most (a lost race to write it reads it again). */
const ATTEMPTS = 3;

/**
 * Reads the KV's marker (one small read) and: writes it when absent, with a check that it is still
 * absent (a lost race reads the winner's marker instead); throws a {@link StoreFormatError} when
 * it names a format above {@link STORE_FORMAT} or cannot be read. An older format opens as it is
 * and nothing is written: a migration of its rows to this format would go here, before the
 * marker is raised. Returns the marker in force. On any error (a refusal, a failed read) `kv` is
 * closed before it is thrown: the caller opened it for the store and gets no store.
 */
export async function ensureStoreFormat(
  kv: Deno.Kv,
  options: StoreFormatOptions,
): Promise<StoreFormatMarker> {
  try {
    return await readOrWrite(kv, options);
  } catch (error) {
    kv.close();
    throw error;
  }
}

async function readOrWrite(kv: Deno.Kv, options: StoreFormatOptions): Promise<StoreFormatMarker> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const found = await withKvRetry(() => kv.get(keys.storeFormat));
    if (found.versionstamp !== null) {
      const marker = readable(found.value);
      if (!marker) throw new StoreFormatError(options.path, found.value, options.release);
      // marker.format < STORE_FORMAT: no older format exists yet. A migration of its rows would
      // run here (and then raise the marker, with a check that it did not change).
      return marker;
    }
    const marker: StoreFormatMarker = {
      format: STORE_FORMAT,
      release: options.release,
      at: options.now(),
    };
    const written = await withKvRetry(() =>
      kv.atomic().check({ key: keys.storeFormat, versionstamp: null })
        .set(keys.storeFormat, marker).commit()
    );
    if (written.ok) return marker;
    // Another process wrote it meanwhile: read what it wrote (it may be a newer engine).
  }
  throw new Error(`the store-format marker of the KV at ${options.path} kept changing`);
}

/** What a KV's marker says to this engine ({@link inspectStoreFormat}). */
export type StoreFormatReading =
  | { status: "absent" }
  | { status: "readable"; marker: StoreFormatMarker }
  | { status: "refused"; error: StoreFormatError };

/**
 * Opens the KV at `options.path` (it must exist: a missing local file would be created), reads its
 * marker and closes it, writing nothing: what `Store.open` would find (`check --kv`).
 */
export async function inspectStoreFormat(
  options: KvOptions & { release: string },
): Promise<StoreFormatReading> {
  const kv = await openKv(options);
  try {
    const found = await withKvRetry(() => kv.get(keys.storeFormat));
    if (found.versionstamp === null) return { status: "absent" };
    const marker = readable(found.value);
    if (marker) return { status: "readable", marker };
    return {
      status: "refused",
      error: new StoreFormatError(options.path, found.value, options.release),
    };
  } finally {
    kv.close();
  }
}
