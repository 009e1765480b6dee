/**
 * Durable markers of uploads to the hosted folder that were stored but not moved to `archive/`
 * (the move failed after the engine had stored them: `archive/` replaced by a file, a full or
 * read-only disk…). Such a file stays in the user's upload space, where the rescan finds it again;
 * the store's deduplication by content lasts only `limits.dedupeWindowSeconds`, so without a
 * marker it would be stored a second time once that window is over. With one, the rescan only
 * tries the move again.
 *
 * A marker names the file as it was stored: its user, path, size, modification time, inode and
 * SHA-256. A file is the one marked when it has the same size and time and the same inode (the
 * same path where the file system has no inodes: a rename by the client keeps the marker), and
 * the same content. Each marker is one small JSON file in a folder beside the users' folders
 * (`<root>/.archive-pending/`, which no user can reach: user names start with a letter or digit),
 * written to a temporary name, flushed and renamed, so that it survives a restart.
 * @module
 */

import { join } from "node:path";
import type { Logger } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";

/** A file stored but not archived; see the module doc. */
export interface PendingFile {
  /** The marker's own name (its file is `<id>.json`). */
  id: string;
  user: string;
  /** As the client named it when it was stored: `/lab/results.hl7`. */
  path: string;
  size: number;
  /** Modification time when it was stored (ms). */
  mtimeMs: number;
  /** Inode, where the file system has them. */
  ino: number | null;
  /** Lower-case hex SHA-256 of the content stored. */
  sha256: string;
  /** When it was stored (ms). */
  storedAt: number;
  /** The last rescan pass that saw it (in memory only; see {@link ArchivePending.see}). */
  seen?: number;
}

const MARKER = /^[0-9a-f]{24}\.json$/;

/** The markers of every user of one hosted server; see the module doc. */
export class ArchivePending {
  readonly #dir: string;
  /** By user, then by id. */
  readonly #byUser = new Map<string, Map<string, PendingFile>>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Reads the markers in `dir` (made if missing); an unreadable one is logged and left. */
  static async load(dir: string, log: Logger): Promise<ArchivePending> {
    const pending = new ArchivePending(dir);
    await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile) continue;
      if (!MARKER.test(e.name)) {
        // A temporary file of a write cut off by a crash.
        if (e.name.endsWith(".tmp")) await Deno.remove(join(dir, e.name)).catch(() => {});
        continue;
      }
      try {
        const file = JSON.parse(await Deno.readTextFile(join(dir, e.name))) as PendingFile;
        if (typeof file.user !== "string" || typeof file.sha256 !== "string") {
          throw new Error("not a marker");
        }
        pending.#remember({ ...file, id: e.name.slice(0, -".json".length), seen: 0 });
      } catch (error) {
        log.warn("sftp-server.archive-marker-unreadable", {
          marker: e.name,
          reason: errorMessage(error),
        });
      }
    }
    return pending;
  }

  /** How many files are marked, all users together. */
  get size(): number {
    let n = 0;
    for (const files of this.#byUser.values()) n += files.size;
    return n;
  }

  /** Whether `user` has any marked file (else a rescan need not look). */
  has(user: string): boolean {
    return (this.#byUser.get(user)?.size ?? 0) > 0;
  }

  /**
   * The marker of the file `user` has at `path` with attributes `info`, if one matches by size,
   * time and inode (path without inodes). The caller compares the content's SHA-256.
   */
  find(user: string, path: string, info: Deno.FileInfo): PendingFile | undefined {
    const mtimeMs = info.mtime?.getTime() ?? 0;
    for (const m of this.#byUser.get(user)?.values() ?? []) {
      if (m.size !== info.size || m.mtimeMs !== mtimeMs) continue;
      const same = m.ino !== null && info.ino !== null ? m.ino === info.ino : m.path === path;
      if (same) return m;
    }
    return undefined;
  }

  /** Notes that rescan pass `pass` saw the file of the marker that matches (see {@link find}). */
  see(user: string, path: string, info: Deno.FileInfo, pass: number): void {
    const m = this.find(user, path, info);
    if (m) m.seen = pass;
  }

  /**
   * Marks a stored file (kept in memory at once); rejects if the marker could not be written to
   * disk (it then lasts until the engine stops).
   */
  async add(file: Omit<PendingFile, "id">): Promise<PendingFile> {
    const random = crypto.getRandomValues(new Uint8Array(12));
    const id = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
    const marked = this.#remember({ ...file, id });
    const { seen: _, ...stored } = marked;
    const target = join(this.#dir, `${id}.json`);
    const temp = `${target}.tmp`;
    try {
      await Deno.mkdir(this.#dir, { recursive: true, mode: 0o750 });
      const f = await Deno.open(temp, { write: true, create: true, truncate: true, mode: 0o640 });
      try {
        const bytes = new TextEncoder().encode(JSON.stringify(stored));
        let n = 0;
        while (n < bytes.length) n += await f.write(bytes.subarray(n));
        await f.sync();
      } finally {
        f.close();
      }
      await Deno.rename(temp, target);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
    return marked;
  }

  /** Forgets a marker (its file archived, or gone). */
  async drop(file: PendingFile): Promise<void> {
    const files = this.#byUser.get(file.user);
    files?.delete(file.id);
    if (files?.size === 0) this.#byUser.delete(file.user);
    await Deno.remove(join(this.#dir, `${file.id}.json`)).catch(() => {});
  }

  /**
   * After a complete rescan pass of `user`: drops the markers not seen by this pass nor by the
   * one before (`seenSince`: that pass's number), whose file the client removed. Two passes, so a
   * file the client renames while a pass runs (seen by neither half) keeps its marker.
   */
  async prune(user: string, seenSince: number): Promise<number> {
    const gone = [...this.#byUser.get(user)?.values() ?? []]
      .filter((m) => (m.seen ?? 0) < seenSince);
    for (const m of gone) await this.drop(m);
    return gone.length;
  }

  #remember(file: PendingFile): PendingFile {
    let files = this.#byUser.get(file.user);
    if (!files) this.#byUser.set(file.user, files = new Map());
    files.set(file.id, file);
    return file;
  }
}
