/**
 * Durable markers of polled files that were stored but left in place: the server refused their
 * archive or delete (a read-only share), or the connection was lost first. The store's dedupe by
 * content hash lasts only `limits.dedupeWindowSeconds`; a marker lasts as long as the file is
 * listed, so such a file is never ingested again while it stays there unchanged (same name, size
 * and SHA-256), however long that is, and across restarts. A complete listing without the file
 * drops its marker. One KV entry per file, `keys.sftpLeftFile(integration, path)`.
 * @module
 */

import { keys } from "./keys.ts";
import { withKvRetry } from "./kv.ts";

/** What is known of a file stored but left in place. */
export interface LeftFile {
  /** Its path on the server (`in/x.hl7`). */
  path: string;
  size: number;
  /** Its modification time as listed when it was read (ms). */
  mtimeMs: number;
  /** Lower-case hex SHA-256 of the content stored. */
  sha256: string;
  /** When it was stored (ms). */
  storedAt: number;
}

/** Deletes per atomic commit. */
const BATCH = 100;

/** The markers of one integration; see the module doc. */
export class LeftInPlace {
  readonly #kv: Deno.Kv;
  readonly #integration: string;

  /** Markers of `integration` in `kv` (the store's). */
  constructor(kv: Deno.Kv, integration: string) {
    this.#kv = kv;
    this.#integration = integration;
  }

  /** Every marker of the integration, by path. */
  async load(): Promise<Map<string, LeftFile>> {
    const out = new Map<string, LeftFile>();
    const prefix = keys.sftpLeftFilePrefix(this.#integration);
    await withKvRetry(async () => {
      out.clear();
      for await (const e of this.#kv.list<LeftFile>({ prefix }, { batchSize: 500 })) {
        if (e.value?.path !== undefined) out.set(e.value.path, e.value);
      }
    });
    return out;
  }

  /** Records (or replaces) the marker of `file.path`. */
  async mark(file: LeftFile): Promise<void> {
    const key = keys.sftpLeftFile(this.#integration, file.path);
    await withKvRetry(() => this.#kv.set(key, file));
  }

  /** Drops the markers of `paths`. */
  async drop(paths: Iterable<string>): Promise<void> {
    const all = [...paths];
    for (let i = 0; i < all.length; i += BATCH) {
      const op = this.#kv.atomic();
      for (const path of all.slice(i, i + BATCH)) {
        op.delete(keys.sftpLeftFile(this.#integration, path));
      }
      await withKvRetry(() => op.commit());
    }
  }
}
