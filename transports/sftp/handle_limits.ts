/**
 * Caps on what the hosted folder's users hold open. Every open file is a file descriptor of the
 * engine's process, shared with its HTTP, MLLP and SFTP listeners, its KV store and its own files;
 * a process out of descriptors stops accepting connections (some listeners for good). So open
 * files and folders are capped per user and across the server, and the names a folder listing
 * holds until the client reads them are capped too (a listing of a 30,000-entry folder is about a
 * megabyte). Past a cap, OPEN and OPENDIR are refused with a clear reason; the first refusal of a
 * burst is logged (`sftp-server.handle-limit`), the rest only counted, and the burst's count is
 * logged when the holder gets back under the cap (`sftp-server.handle-limit-ended`).
 * @module
 */

// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Logger } from "../../actors/ports.ts";
import { Refusal } from "./folder_replies.ts";

const { STATUS_CODE } = ssh2.utils.sftp;

/**
 * Open files and folders per user: 256. A counterparty's client holds one file per transfer
 * (OpenSSH `sftp` one, WinSCP or FileZilla a few parallel ones, a script perhaps a dozen); 256 is
 * far above anything a working client needs and a quarter of {@link MAX_OPEN_HANDLES}, so one user
 * cannot take the whole server's share.
 */
export const MAX_OPEN_HANDLES_PER_USER = 256;

/**
 * Open files and folders across the hosted server, all users together: 1,024, or half the
 * process's open-file limit when that is lower (Linux, read at start), leaving the rest to the
 * engine's own sockets and files.
 */
export const MAX_OPEN_HANDLES = 1024;

/**
 * Characters of names held by one user's open folder listings: 16 Mi (about 16 MB), room for
 * listing a 100,000-file folder several times at once. A single listing is never refused for its
 * size when it is the only one held.
 */
export const MAX_LISTED_CHARS_PER_USER = 16 * 1024 * 1024;

/** Characters of names held by all open folder listings: 64 Mi (about 64 MB). */
export const MAX_LISTED_CHARS = 64 * 1024 * 1024;

/** The caps; defaults above. */
export interface HandleLimitsOptions {
  maxPerUser?: number;
  maxTotal?: number;
  maxListedPerUser?: number;
  maxListedTotal?: number;
  /** Half the process's open-file limit ({@link halfTheFdLimit}): `maxTotal`'s default is no higher. */
  halfFdLimit?: number;
  log: Logger;
}

/** One open file or folder, counted until released. */
export interface HandleLease {
  /**
   * Counts the `chars` characters of names listed from `folder`; throws a {@link Refusal} past a
   * cap. The size is remembered, so that listing that folder again is refused before reading it.
   */
  list(chars: number, folder: string): void;
  /** Gives the handle (and its listed names) back; idempotent. */
  release(): void;
}

interface Burst {
  user: string;
  scope: "user" | "server" | "listing";
  refused: number;
  /** For listings: all names held when it began; it ends once some are given back. */
  listed: number;
}

/** Folders whose last listing size is remembered. */
const REMEMBERED_FOLDERS = 1024;

/** See the module doc. */
export class HandleLimits {
  readonly #log: Logger;
  /** The caps in force. */
  readonly maxPerUser: number;
  /** See {@link maxPerUser}. */
  readonly maxTotal: number;
  readonly #maxListedPerUser: number;
  readonly #maxListedTotal: number;
  readonly #handles = new Map<string, number>();
  readonly #listed = new Map<string, number>();
  #totalHandles = 0;
  #totalListed = 0;
  /** Refusal bursts under way, by user and scope. */
  readonly #bursts = new Map<string, Burst>();
  /** Characters of the last listing of each folder, the latest last. */
  readonly #sizes = new Map<string, number>();

  /** Caps from `options`, else the defaults (the server-wide one lowered to `halfFdLimit`). */
  constructor(options: HandleLimitsOptions) {
    this.#log = options.log;
    this.maxTotal = options.maxTotal ??
      Math.min(MAX_OPEN_HANDLES, options.halfFdLimit ?? Infinity);
    this.maxPerUser = Math.min(options.maxPerUser ?? MAX_OPEN_HANDLES_PER_USER, this.maxTotal);
    this.#maxListedPerUser = options.maxListedPerUser ?? MAX_LISTED_CHARS_PER_USER;
    this.#maxListedTotal = options.maxListedTotal ?? MAX_LISTED_CHARS;
  }

  /** Handles `user` holds now. */
  held(user: string): number {
    return this.#handles.get(user) ?? 0;
  }

  /**
   * Counts one more open handle of `user`, or throws a {@link Refusal} past a cap (logged); for a
   * `folder` to list, also when its last listing would not fit now.
   */
  take(user: string, peer: string, folder?: string): HandleLease {
    if (this.held(user) >= this.maxPerUser) {
      this.#refuse(user, peer, "user", this.maxPerUser);
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `too many open files and folders (limit ${this.maxPerUser} per user); close some and try again`,
      );
    }
    if (this.#totalHandles >= this.maxTotal) {
      this.#refuse(user, peer, "server", this.maxTotal);
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `the server has too many open files and folders (limit ${this.maxTotal}); try again later`,
      );
    }
    if (folder !== undefined) this.#mustFit(user, peer, this.#sizes.get(folder) ?? 0);
    this.#handles.set(user, this.held(user) + 1);
    this.#totalHandles++;
    let listed = 0;
    let released = false;
    return {
      list: (chars, folder) => {
        this.#sizes.delete(folder);
        this.#sizes.set(folder, chars);
        if (this.#sizes.size > REMEMBERED_FOLDERS) {
          this.#sizes.delete(this.#sizes.keys().next().value!);
        }
        this.#mustFit(user, peer, chars);
        const mine = this.#listed.get(user) ?? 0;
        this.#listed.set(user, mine + chars);
        this.#totalListed += chars;
        listed += chars;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#handles.set(user, this.held(user) - 1);
        if (this.held(user) === 0) this.#handles.delete(user);
        this.#totalHandles--;
        const mine = (this.#listed.get(user) ?? 0) - listed;
        if (mine > 0) this.#listed.set(user, mine);
        else this.#listed.delete(user);
        this.#totalListed -= listed;
        this.#endBursts();
      },
    };
  }

  /**
   * Refuses a listing of `chars` characters that `user` cannot hold now. One listing alone always
   * fits (a folder larger than the caps can still be listed, one listing at a time).
   */
  #mustFit(user: string, peer: string, chars: number): void {
    const mine = this.#listed.get(user) ?? 0;
    const total = this.#totalListed;
    if (
      (mine === 0 || mine + chars <= this.#maxListedPerUser) &&
      (total === 0 || total + chars <= this.#maxListedTotal)
    ) return;
    this.#refuse(user, peer, "listing", this.#maxListedPerUser);
    throw new Refusal(
      STATUS_CODE.FAILURE,
      "too many large folder listings open at once; read or close them and try again",
    );
  }

  #refuse(user: string, peer: string, scope: Burst["scope"], limit: number): void {
    const key = `${scope}|${scope === "server" ? "" : user}`;
    const burst = this.#bursts.get(key);
    if (burst) {
      burst.refused++;
      return;
    }
    this.#bursts.set(key, { user, scope, refused: 1, listed: this.#totalListed });
    const what = scope === "listing"
      ? "folder listings too large"
      : "too many open files and folders";
    this.#log.warn("sftp-server.handle-limit", {
      user,
      peer,
      limit: scope === "listing" ? `${limit} characters of names` : limit,
      reason: `${what} (${
        scope === "server" ? "whole server" : "this user"
      }); OPEN/OPENDIR refused until some are closed (further refusals counted, not logged)`,
    });
  }

  /** Ends the bursts whose holder is back under its cap, logging how many were refused. */
  #endBursts(): void {
    for (const [key, burst] of this.#bursts) {
      const under = burst.scope === "server"
        ? this.#totalHandles < this.maxTotal
        : burst.scope === "user"
        ? this.held(burst.user) < this.maxPerUser
        : this.#totalListed < burst.listed;
      if (!under) continue;
      this.#bursts.delete(key);
      this.#log.info("sftp-server.handle-limit-ended", {
        user: burst.scope === "server" ? undefined : burst.user,
        scope: burst.scope,
        refused: burst.refused,
      });
    }
  }
}

/** Half the soft limit on open files (Linux: `/proc/self/limits`), or Infinity when unknown. */
export async function halfTheFdLimit(): Promise<number> {
  try {
    const path = "/proc/self/limits";
    if ((await Deno.permissions.query({ name: "read", path })).state !== "granted") return Infinity;
    const line = (await Deno.readTextFile(path)).split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isFinite(soft) && soft > 0 ? Math.max(16, Math.floor(soft / 2)) : Infinity;
  } catch {
    return Infinity;
  }
}
