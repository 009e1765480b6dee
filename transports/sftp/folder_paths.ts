/**
 * A hosted user's folder as paths: what a client path names (inside the folder, no symbolic
 * links, the engine's own hidden files left out), where uploads may go, and the requests that name
 * a path and hold nothing open (STAT, REMOVE, RENAME, MKDIR, RMDIR, SETSTAT). Each throws a
 * {@link Refusal} or a system error when refused; the session answers. Every file-system call is
 * asynchronous: a slow disk holds the request, never the engine's thread.
 * @module
 */

// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { Refusal } from "./folder_replies.ts";
import type { FolderJail, JailedPath } from "./jail.ts";
import type { HostedUser } from "./server_users.ts";
import { NameTaken, RESERVED, STAGING, type UploadDesk, UploadNotTaken } from "./uploads.ts";

const { STATUS_CODE } = ssh2.utils.sftp;

/** Whose folder, and who asks. */
export interface FolderPathsOptions {
  user: HostedUser;
  jail: FolderJail;
  desk: UploadDesk;
  peer: string;
}

/** See the module doc. */
export class FolderPaths {
  readonly #o: FolderPathsOptions;

  /** The folder of `options.user`. */
  constructor(options: FolderPathsOptions) {
    this.#o = options;
  }

  /** Resolves inside the folder, refusing links and the engine's own hidden files. */
  async resolve(path: string): Promise<JailedPath> {
    const p = await this.#o.jail.resolveChecked(path);
    const leaf = p.segments[p.segments.length - 1];
    if (leaf && this.hidden(p.segments.slice(0, -1), leaf)) {
      throw new Refusal(STATUS_CODE.NO_SUCH_FILE, "no such file or folder");
    }
    return p;
  }

  /** Staging files anywhere, and deliveries still being written in `outbox/`. */
  hidden(parent: string[], name: string): boolean {
    if (STAGING.test(name)) return true;
    return parent[0] === "outbox" && this.#o.desk.holdBack(name);
  }

  /** Refuses `what` at `p` unless it is upload space (not `/`, `outbox/` or `archive/`). */
  mustBeUploadSpace(p: JailedPath, what: string): void {
    if (p.segments.length === 0 || RESERVED.has(p.segments[0]!)) {
      throw new Refusal(
        STATUS_CODE.PERMISSION_DENIED,
        `${what} ${p.virtual} refused: outbox/ and archive/ are read-only (upload elsewhere)`,
      );
    }
  }

  /** STAT and LSTAT (links are refused by {@link resolve}, so both are the same). */
  async stat(path: string): Promise<Deno.FileInfo> {
    return await Deno.stat((await this.resolve(path)).real);
  }

  /** REMOVE: a file in upload space, or one in `outbox/` (downloaded). */
  async remove(path: string): Promise<void> {
    const p = await this.resolve(path);
    const inOutbox = p.segments[0] === "outbox" && p.segments.length > 1;
    if (!inOutbox) this.mustBeUploadSpace(p, "removing");
    if (!(await Deno.lstat(p.real)).isFile) throw new Refusal(STATUS_CODE.FAILURE, "not a file");
    await Deno.remove(p.real);
  }

  /**
   * RENAME within upload space, never onto an existing name. For a held-back upload (`x.filepart`)
   * renamed to its final name, resolves to the step that renames and takes it in (see
   * `UploadDesk.complete`), which the session runs beside its other requests; otherwise the
   * rename is done when this resolves.
   */
  async rename(from: string, to: string): Promise<(() => Promise<void>) | undefined> {
    const a = await this.resolve(from);
    const b = await this.resolve(to);
    this.mustBeUploadSpace(a, "renaming");
    this.mustBeUploadSpace(b, "renaming to");
    const info = await Deno.lstat(a.real);
    const { desk, user, jail, peer } = this.#o;
    const leafA = a.segments[a.segments.length - 1]!;
    const leafB = b.segments[b.segments.length - 1]!;
    if (info.isFile && desk.holdBack(leafA) && !desk.holdBack(leafB)) {
      return async () => {
        try {
          await desk.complete({ user, jail, path: b, peer, from: a.real, staged: false });
        } catch (error) {
          if (error instanceof UploadNotTaken || error instanceof NameTaken) {
            throw new Refusal(STATUS_CODE.FAILURE, error.message);
          }
          throw error;
        }
      };
    }
    let taken = true;
    try {
      await Deno.lstat(b.real);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      taken = false;
    }
    if (taken) throw new Refusal(STATUS_CODE.FAILURE, `${b.virtual} already exists`);
    await Deno.rename(a.real, b.real);
    return undefined;
  }

  /** MKDIR in upload space. */
  async mkdir(path: string): Promise<void> {
    const p = await this.resolve(path);
    this.mustBeUploadSpace(p, "making a folder");
    await Deno.mkdir(p.real, { mode: 0o750 });
  }

  /** RMDIR in upload space. */
  async rmdir(path: string): Promise<void> {
    const p = await this.resolve(path);
    this.mustBeUploadSpace(p, "removing a folder");
    if (!(await Deno.lstat(p.real)).isDirectory) {
      throw new Refusal(STATUS_CODE.FAILURE, "not a folder");
    }
    await Deno.remove(p.real);
  }
}
