/**
 * `main.ts kv-index CONFIG`: narrows Deno KV's expiry index of the config's local KV file whatever
 * its size (the engine does it at start only up to `NARROW_AT_START_MAX_BYTES`; see
 * `actors/store/expiry_index.ts`). Building the index reads every row under SQLite's write lock,
 * so it is meant for a stopped engine (a running one would wait on the lock, then fail commits).
 * @module
 */

import type { Config } from "../actors/config/mod.ts";
import { narrowExpiryIndex } from "../actors/store/expiry_index.ts";
import { kvPathKind } from "../actors/store/kv.ts";
import { kvLocation } from "./config_check.ts";

/** Why `kv-index` could not do it, in one line for the operator. */
export class KvIndexError extends Error {
  override name = "KvIndexError";
}

/** How {@link narrowKvIndex} waits. */
export interface KvIndexOptions {
  /** How long to wait for the write lock another process holds, ms; default 10,000. */
  lockTimeoutMs?: number;
  /** Resolves a relative `kv.path`; default the process's. */
  cwd?: string;
}

/**
 * Narrows the expiry index of `config.kv.path`; resolves to the line to print. Rejects with a
 * {@link KvIndexError} saying why not: no local file (`:memory:`, KV Connect, not created yet),
 * not a Deno KV file, or SQLite refused (the lock held past the timeout, a read-only file).
 *
 * @example
 * ```ts ignore
 * console.log(await narrowKvIndex(config)); // kv-index: narrowed … in 740 ms
 * ```
 */
export async function narrowKvIndex(config: Config, options: KvIndexOptions = {}): Promise<string> {
  const kvPath = config.kv.path;
  if (kvPathKind(kvPath) !== "file") {
    throw new KvIndexError(
      `kv-index: kv.path is ${kvPath}: this command changes a local KV file only`,
    );
  }
  const file = kvLocation(kvPath, options.cwd ?? Deno.cwd()).absolute;
  let bytes: number;
  try {
    bytes = Deno.statSync(file).size;
  } catch {
    throw new KvIndexError(
      `kv-index: ${file} does not exist yet: the engine creates it with the narrow index`,
    );
  }
  const outcome = await narrowExpiryIndex(file, {
    maxBytes: Infinity,
    busyTimeoutMs: options.lockTimeoutMs ?? 10_000,
  });
  const mib = (bytes / 2 ** 20).toFixed(1);
  switch (outcome.status) {
    case "narrowed":
      return `kv-index: narrowed the expiry index of ${file} (${mib} MiB) in ${outcome.ms} ms`;
    case "narrow":
      return `kv-index: the expiry index of ${file} is narrow already: nothing to do`;
    case "absent":
      throw new KvIndexError(
        `kv-index: ${file} has no index kv_expiration_ms_idx: not a Deno KV file this engine knows`,
      );
    case "skipped":
      // maxBytes is Infinity: never skipped, but say so rather than nothing.
      throw new KvIndexError(`kv-index: ${file} was skipped (${outcome.bytes} bytes)`);
    case "failed":
      throw new KvIndexError(
        `kv-index: ${file}: ${outcome.error}` +
          (/locked|busy/i.test(outcome.error)
            ? " (another process holds the write lock: stop the engine, or raise --timeout)"
            : ""),
      );
  }
}
