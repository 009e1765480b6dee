/**
 * A hosted user's folder as paths: what a client path names (inside the folder, no symbolic
 * links, the engine's own hidden files left out), where uploads may go, and the requests that name
 * a path and hold nothing open (STAT, REMOVE, RENAME, MKDIR, RMDIR, SETSTAT). Each throws a
 * {@link Refusal} or a system error when refused; the session answers.
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
  resolve(path: string): JailedPath {
    const p = this.#o.jail.resolveChecked(path);
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
  stat(path: string): Deno.FileInfo {
    return Deno.statSync(this.resolve(path).real);
  }

  /** REMOVE: a file in upload space, or one in `outbox/` (downloaded). */
  remove(path: string): void {
    const p = this.resolve(path);
    const inOutbox = p.segments[0] === "outbox" && p.segments.length > 1;
    if (!inOutbox) this.mustBeUploadSpace(p, "removing");
    if (!Deno.lstatSync(p.real).isFile) throw new Refusal(STATUS_CODE.FAILURE, "not a file");
    Deno.removeSync(p.real);
  }

  /**
   * RENAME within upload space, never onto an existing name. A held-back upload (`x.filepart`)
   * renamed to its final name is taken in before this resolves (see `UploadDesk.complete`).
   */
  async rename(from: string, to: string): Promise<void> {
    const a = this.resolve(from);
    const b = this.resolve(to);
    this.mustBeUploadSpace(a, "renaming");
    this.mustBeUploadSpace(b, "renaming to");
    const info = Deno.lstatSync(a.real);
    const { desk, user, jail, peer } = this.#o;
    const leafA = a.segments[a.segments.length - 1]!;
    const leafB = b.segments[b.segments.length - 1]!;
    if (info.isFile && desk.holdBack(leafA) && !desk.holdBack(leafB)) {
      try {
        await desk.complete({ user, jail, path: b, peer, from: a.real, staged: false });
      } catch (error) {
        if (error instanceof UploadNotTaken || error instanceof NameTaken) {
          throw new Refusal(STATUS_CODE.FAILURE, error.message);
        }
        throw error;
      }
      return;
    }
    let taken = true;
    try {
      Deno.lstatSync(b.real);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      taken = false;
    }
    if (taken) throw new Refusal(STATUS_CODE.FAILURE, `${b.virtual} already exists`);
    Deno.renameSync(a.real, b.real);
  }

  /** MKDIR in upload space. */
  mkdir(path: string): void {
    const p = this.resolve(path);
    this.mustBeUploadSpace(p, "making a folder");
    Deno.mkdirSync(p.real, { mode: 0o750 });
  }

  /** RMDIR in upload space. */
  rmdir(path: string): void {
    const p = this.resolve(path);
    this.mustBeUploadSpace(p, "removing a folder");
    if (!Deno.lstatSync(p.real).isDirectory) throw new Refusal(STATUS_CODE.FAILURE, "not a folder");
    Deno.removeSync(p.real);
  }
}
