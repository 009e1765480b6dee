/**
 * A folder listing served page by page. OPENDIR reads only the folder's names, off the engine's
 * thread (`Deno.readDir`), and keeps them packed in one string (a few bytes per entry: about a
 * megabyte for 30,000 entries); each READDIR then looks up the attributes of its next
 * {@link PAGE} names only, asynchronously. An entry removed before its page is read is left out;
 * sizes and times are those at the time of the READDIR.
 * @module
 */

import { join } from "node:path";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import { attrsOf, longName } from "./folder_replies.ts";

/** Entries per READDIR answer. */
export const PAGE = 100;

/** See the module doc. */
export class FolderListing {
  readonly #dir: string;
  /** The names still to send, each followed by `/` (which no name contains). */
  readonly #names: string;
  #at = 0;

  private constructor(dir: string, names: string) {
    this.#dir = dir;
    this.#names = names;
  }

  /** Reads the names in `dir` that `keep` accepts. */
  static async read(dir: string, keep: (entry: Deno.DirEntry) => boolean): Promise<FolderListing> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) if (keep(entry)) names.push(entry.name, "/");
    return new FolderListing(dir, names.join(""));
  }

  /** Characters of names held: what the listing costs. */
  get size(): number {
    return this.#names.length;
  }

  /**
   * The next entries (up to {@link PAGE}) with their attributes, as `owner`'s; undefined at the
   * end. Symbolic links and entries gone meanwhile are left out.
   */
  async next(owner: string): Promise<ssh2.FileEntry[] | undefined> {
    for (;;) {
      const names = this.#take(PAGE);
      if (names.length === 0) return undefined;
      const infos = await Promise.all(
        names.map((name) => Deno.lstat(join(this.#dir, name)).catch(() => undefined)),
      );
      const entries: ssh2.FileEntry[] = [];
      names.forEach((name, i) => {
        const info = infos[i];
        if (!info || info.isSymlink) return;
        entries.push({
          filename: name,
          longname: longName(name, info, owner),
          attrs: attrsOf(info),
        });
      });
      if (entries.length > 0) return entries;
    }
  }

  /** Takes the next `n` names (synchronously: two READDIRs at once get different pages). */
  #take(n: number): string[] {
    const out: string[] = [];
    while (out.length < n && this.#at < this.#names.length) {
      const end = this.#names.indexOf("/", this.#at);
      out.push(this.#names.slice(this.#at, end));
      this.#at = end + 1;
    }
    return out;
  }
}
