/**
 * Taking in files uploaded to the hosted folder: read the completed file, hand it to the engine
 * (`onUpload`, which stores it durably) and only then move it to the user's `archive/`. If the
 * engine refuses, the file stays where it is, is logged, and is offered again by the next rescan
 * (at start and periodically), which also removes staging files left by interrupted uploads.
 *
 * A file stored whose move to `archive/` fails stays in place too, but is never stored again: it
 * gets a durable marker (`archive_pending.ts`) and one `sftp-server.archive-failed` line, and the
 * rescans only try the move again, quietly, until it succeeds (`sftp-server.archived-late`).
 *
 * The rescan walks each user's folders however deep, one folder after another (no recursion), and
 * looks at about {@link MAX_RESCAN_ENTRIES} entries per user per rescan: past that it logs
 * `sftp-server.rescan-capped` once and the next rescan goes on where this one stopped, so every
 * file is reached within a few rescans.
 *
 * Everything that happens to one name happens one step at a time: putting a closed upload under
 * its name and taking it in is one step ({@link UploadDesk.complete}), so two uploads of the same
 * name closed together are each stored with their own bytes, one after the other; a file of that
 * name still waiting to be stored is taken in before a newer upload may replace it.
 * @module
 */

import { dirname, join, relative } from "node:path";
import type { Logger } from "../../actors/ports.ts";
import { type FolderJail, type JailedPath, NAME_MAX } from "./jail.ts";
import type { HostedUser } from "./server_users.ts";
import { forClient } from "./folder_replies.ts";
import { errorMessage } from "../../actors/mod.ts";
import type { ArchivePending, PendingFile } from "./archive_pending.ts";

/** A completed upload handed to the engine. */
export interface Upload {
  user: string;
  /** The integration the user feeds. */
  integration: string;
  /** As the client named it: `/lab/results.hl7`. */
  path: string;
  /** The last segment of `path`. */
  fileName: string;
  bytes: Uint8Array;
  /** The uploader's address. */
  peer: string;
}

/** Top-level folders of a user that are not upload space. */
export const RESERVED = new Set(["outbox", "archive"]);

/**
 * Staging files that uploads are written to until the client closes them: `.<12 hex>.upload`,
 * short so that any name the file system takes can be uploaded (earlier versions put the name in
 * it too: `.<name>.<12 hex>.upload`, still recognised so that the rescan removes them).
 */
export const STAGING = /^\.(?:.+\.)?[0-9a-f]{12}\.upload$/;

/** An upload was not taken in; the message is for the client (no host path, no system text). */
export class UploadNotTaken extends Error {
  /** Why, in a few words (also for the client). */
  readonly reason: string;

  /** Refused with `message` because of `reason`. */
  constructor(message: string, reason = message) {
    super(message);
    this.name = "UploadNotTaken";
    this.reason = reason;
  }
}

/**
 * A file stored earlier still cannot be moved to `archive/`: it keeps its name (a new upload of
 * that name is refused) and is never stored again.
 */
export class NotArchivedYet extends UploadNotTaken {
  /** The move failed again. */
  constructor() {
    super("stored, but not yet moved to archive/", "stored, but not yet moved to archive/");
    this.name = "NotArchivedYet";
  }
}

/**
 * Entries (files and folders) a rescan looks at per user, about: a folder is read whole, so one
 * rescan may go past this by the size of the last folder it read.
 */
export const MAX_RESCAN_ENTRIES = 20_000;

/** A held-back file cannot be renamed to a name that is taken. */
export class NameTaken extends Error {
  /** `virtual` exists already. */
  constructor(virtual: string) {
    super(`${virtual} already exists`);
    this.name = "NameTaken";
  }
}

/** A finished upload to put under its name (see {@link UploadDesk.complete}). */
export interface Completion {
  user: HostedUser;
  jail: FolderJail;
  /** The name it takes. */
  path: JailedPath;
  peer: string;
  /** Where it is now: its staging file, or the held-back name the client renames. */
  from: string;
  /** `from` is a staging file (replaces a file of that name) rather than a client's rename. */
  staged: boolean;
}

/** What the desk needs. */
export interface UploadDeskOptions {
  /** Stores the upload durably; rejecting leaves the file in place. */
  onUpload(upload: Upload): Promise<void>;
  /** Names still being written by their sender (taken in once renamed). */
  holdBack(name: string): boolean;
  maxFileBytes: number;
  log: Logger;
  /** Files stored but not archived (loaded at start). */
  pending: ArchivePending;
  /** See {@link MAX_RESCAN_ENTRIES} (the default). */
  maxRescanEntries?: number;
}

/** Where a user's rescan stands: folders still to read, depth first. */
interface RescanPass {
  number: number;
  stack: string[][];
  /** `sftp-server.rescan-capped` logged for this pass. */
  capped: boolean;
}

/** See the module doc. */
export class UploadDesk {
  readonly #options: UploadDeskOptions;
  /** Per real path, the end of the last step queued on it. */
  readonly #busy = new Map<string, Promise<void>>();
  /** Staging files of uploads under way. */
  readonly #staging = new Set<string>();
  /** Rescan passes under way (cut by the entry cap), by user. */
  readonly #passes = new Map<string, RescanPass>();
  /** The number of the last complete pass of each user. */
  readonly #completed = new Map<string, number>();
  /** Numbers passes; markers made now are seen by the latest. */
  #passCount = 0;

  /** A desk handing uploads to `options.onUpload`. */
  constructor(options: UploadDeskOptions) {
    this.#options = options;
  }

  /** Whether a name is held back until renamed. */
  holdBack(name: string): boolean {
    return this.#options.holdBack(name);
  }

  /** A fresh staging path next to `real` (`.<12 hex>.upload`), registered as in use. */
  stage(real: string): string {
    const random = crypto.getRandomValues(new Uint8Array(6));
    const tag = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
    const staging = join(dirname(real), `.${tag}.upload`);
    this.#staging.add(staging);
    return staging;
  }

  /** The staging file is gone (renamed or removed). */
  unstage(staging: string): void {
    this.#staging.delete(staging);
  }

  /** Runs `step` after every step queued on `real` has ended (one step per name at a time). */
  #exclusive<T>(real: string, step: () => Promise<T>): Promise<T> {
    const run = (this.#busy.get(real) ?? Promise.resolve()).then(step);
    const ended = run.then(() => {}, () => {});
    this.#busy.set(real, ended);
    ended.then(() => {
      if (this.#busy.get(real) === ended) this.#busy.delete(real);
    });
    return run;
  }

  /**
   * Puts a finished upload under its name and takes it in, as one step for that name: an upload
   * closed meanwhile under the same name waits for this one to be stored and archived. A file of
   * that name still waiting to be stored (its take-in failed earlier) is taken in first; if it
   * still cannot be, the new upload is discarded rather than replacing it. Resolves `"held"` for a
   * held-back name (put in place, not taken in), `"taken"` once stored. Rejects with an
   * {@link UploadNotTaken} (logged) or, for a rename onto an existing name, a {@link NameTaken}.
   */
  complete(c: Completion): Promise<"held" | "taken"> {
    return this.#exclusive(c.path.real, async () => {
      const { user, jail, path, peer, from, staged } = c;
      const held = this.holdBack(path.segments[path.segments.length - 1]!);
      const there = await lstatOrNothing(path.real);
      if (there && !staged) throw new NameTaken(path.virtual);
      if (there && (!there.isFile || !held)) {
        try {
          if (there.isDirectory) throw new UploadNotTaken("a folder of that name exists");
          if (!there.isFile) throw new UploadNotTaken("something other than a file has that name");
          await this.#takeInOrSay(user, jail, path, "rescan");
        } catch (error) {
          await this.#drop(from);
          const reason = error instanceof UploadNotTaken
            ? error.reason
            : forClient(error, jail.home);
          const why = error instanceof NotArchivedYet
            ? "a file of this name sent earlier was stored but could not be moved to archive/ yet"
            : there.isFile
            ? `a file of this name sent earlier is still waiting to be stored (the engine could not store it: ${reason})`
            : reason;
          this.#options.log.error("sftp-server.upload-not-stored", {
            user: user.name,
            file: path.virtual,
            peer,
            reason: `${why}; discarded`,
          });
          throw new UploadNotTaken(
            `not stored: ${why}; this upload was discarded, send it again later`,
          );
        }
      }
      await Deno.rename(from, path.real);
      if (staged) this.unstage(from);
      if (held) return "held";
      await this.#takeInOrSay(user, jail, path, peer);
      return "taken";
    });
  }

  /** Removes a staging file that will not be used. */
  async #drop(staging: string): Promise<void> {
    await Deno.remove(staging).catch(() => {});
    this.unstage(staging);
  }

  /** {@link #takeIn}, its failure logged and said in words for the client. */
  async #takeInOrSay(
    user: HostedUser,
    jail: FolderJail,
    path: JailedPath,
    peer: string,
  ): Promise<void> {
    try {
      await this.#takeIn(user, jail, path, peer);
    } catch (error) {
      if (error instanceof UploadNotTaken) throw error;
      this.#options.log.error("sftp-server.upload-not-stored", {
        user: user.name,
        file: path.virtual,
        peer,
        reason: errorMessage(error),
      });
      const reason = forClient(error, jail.home);
      throw new UploadNotTaken(
        `received, but the engine could not store it (${reason}); it stays here and will be retried`,
        reason,
      );
    }
  }

  async #takeIn(user: HostedUser, jail: FolderJail, path: JailedPath, peer: string): Promise<void> {
    const { log, pending } = this.#options;
    const info = await Deno.stat(path.real);
    if (info.size > this.#options.maxFileBytes) {
      throw new Error(
        `the file has ${info.size} bytes, over the limit of ${this.#options.maxFileBytes}`,
      );
    }
    const bytes = await Deno.readFile(path.real);
    const marked = pending.find(user.name, path.virtual, info);
    if (marked && marked.sha256 === await sha256Hex(bytes)) {
      return await this.#archiveStored(user, jail, path, marked);
    }
    if (marked) await pending.drop(marked); // another file now (same size and time, new bytes)
    const fileName = path.segments[path.segments.length - 1] ?? "file";
    await this.#options.onUpload({
      user: user.name,
      integration: user.integration,
      path: path.virtual,
      fileName,
      bytes,
      peer,
    });
    const archived = await this.#archive(jail, path);
    if ("failed" in archived) await this.#leftInPlace(user, path, info, bytes, archived.failed);
    log.info("sftp-server.upload-taken", {
      user: user.name,
      integration: user.integration,
      file: path.virtual,
      bytes: bytes.length,
      archivedAs: "as" in archived ? archived.as : undefined,
      peer,
    });
  }

  /**
   * A file just stored that could not be archived: marked, so that no rescan stores it again, and
   * logged (once for the file: the rescans then try the move quietly).
   */
  async #leftInPlace(
    user: HostedUser,
    path: JailedPath,
    info: Deno.FileInfo,
    bytes: Uint8Array,
    reason: string,
  ): Promise<void> {
    const { pending, log } = this.#options;
    let marker: string | undefined;
    try {
      await pending.add({
        user: user.name,
        path: path.virtual,
        size: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
        ino: info.ino,
        sha256: await sha256Hex(bytes),
        storedAt: Date.now(),
        seen: this.#passCount,
      });
    } catch (error) {
      marker = `not saved (${
        errorMessage(error)
      }): known until the engine stops, stored again after a restart if still there past the dedupe window`;
    }
    log.error("sftp-server.archive-failed", {
      user: user.name,
      file: path.virtual,
      reason,
      then: "stored; left in place and never stored again: the move is tried again at each rescan",
      ...(marker ? { marker } : {}),
    });
  }

  /** Tries again to archive a file stored earlier; throws {@link NotArchivedYet} if it fails. */
  async #archiveStored(
    user: HostedUser,
    jail: FolderJail,
    path: JailedPath,
    marked: PendingFile,
  ): Promise<void> {
    const archived = await this.#archive(jail, path);
    if ("failed" in archived) throw new NotArchivedYet();
    await this.#options.pending.drop(marked);
    this.#options.log.info("sftp-server.archived-late", {
      user: user.name,
      file: path.virtual,
      archivedAs: archived.as,
      storedAt: new Date(marked.storedAt).toISOString(),
    });
  }

  /** Moves a taken file to `archive/` (same relative path; a taken name gets a time prefix). */
  async #archive(jail: FolderJail, path: JailedPath): Promise<{ as: string } | { failed: string }> {
    const rel = path.segments.join("/");
    let target = join(jail.home, "archive", rel);
    try {
      await Deno.mkdir(dirname(target), { recursive: true, mode: 0o750 });
      for (let n = 1; await exists(target); n++) {
        const stamp = new Date().toISOString().replace(/[-:]/g, "") + (n > 1 ? `-${n}` : "");
        target = join(dirname(target), fitName(`${stamp}-`, path.segments.at(-1)!));
      }
      await Deno.rename(path.real, target);
      return { as: "/" + relative(jail.home, target) };
    } catch (error) {
      return { failed: errorMessage(error) };
    }
  }

  /**
   * Offers again every completed file left in the users' upload space, and removes staging files
   * that no upload under way owns (left by a crash or a dropped connection). Lists the folders
   * first (`listed` is called then), then offers what it found. Per user, about
   * {@link MAX_RESCAN_ENTRIES} entries: the next rescan goes on where this one stopped.
   */
  async rescan(
    users: { user: HostedUser; jail: FolderJail }[],
    listed?: () => void,
  ): Promise<void> {
    const found: { user: HostedUser; jail: FolderJail; files: JailedPath[]; pass: RescanPass }[] =
      [];
    try {
      for (const { user, jail } of users) {
        found.push({ user, jail, ...(await this.#list(user, jail)) });
      }
    } finally {
      listed?.();
    }
    for (const { user, jail, files, pass } of found) {
      for (const path of files) await this.#offer(user, jail, path, pass);
      if (pass.stack.length > 0) continue;
      // A complete pass: the markers of files no longer there go.
      const before = this.#completed.get(user.name) ?? 0;
      this.#completed.set(user.name, pass.number);
      if (this.#options.pending.has(user.name)) {
        await this.#options.pending.prune(user.name, before);
      }
    }
  }

  /**
   * The files of `user`'s upload space, folder after folder (depth first, no recursion), from
   * where the last rescan stopped; stops after about the entry cap, leaving the rest for the next.
   */
  async #list(
    user: HostedUser,
    jail: FolderJail,
  ): Promise<{ files: JailedPath[]; pass: RescanPass }> {
    const max = this.#options.maxRescanEntries ?? MAX_RESCAN_ENTRIES;
    let pass = this.#passes.get(user.name);
    if (!pass) {
      pass = { number: ++this.#passCount, stack: [[]], capped: false };
      this.#passes.set(user.name, pass);
    }
    const files: JailedPath[] = [];
    let entries = 0;
    while (pass.stack.length > 0) {
      if (entries >= max) {
        if (!pass.capped) {
          pass.capped = true;
          this.#options.log.warn("sftp-server.rescan-capped", {
            user: user.name,
            limit: max,
            reason:
              `more than ${max} files and folders to look at; the next rescans go on where this one stopped`,
          });
        }
        return { files, pass };
      }
      const segments = pass.stack.pop()!;
      const list: Deno.DirEntry[] = [];
      try {
        for await (const e of Deno.readDir(join(jail.home, ...segments))) list.push(e);
      } catch {
        continue; // removed meanwhile, or not readable: nothing to offer there
      }
      entries += list.length;
      const folders: string[][] = [];
      for (const e of list) {
        if (segments.length === 0 && RESERVED.has(e.name)) continue;
        const next = [...segments, e.name];
        if (e.isDirectory) folders.push(next);
        else if (e.isFile) {
          files.push({
            virtual: "/" + next.join("/"),
            segments: next,
            real: join(jail.home, ...next),
          });
        }
      }
      // Depth first, in listing order.
      for (let k = folders.length - 1; k >= 0; k--) pass.stack.push(folders[k]!);
    }
    this.#passes.delete(user.name);
    return { files, pass };
  }

  /** One file found by a rescan: removed (a staging file no upload owns), left, or offered. */
  async #offer(
    user: HostedUser,
    jail: FolderJail,
    path: JailedPath,
    pass: RescanPass,
  ): Promise<void> {
    const leaf = path.segments[path.segments.length - 1]!;
    if (STAGING.test(leaf)) {
      if (!this.#staging.has(path.real)) await Deno.remove(path.real).catch(() => {});
      return;
    }
    const { pending, holdBack } = this.#options;
    if (pending.has(user.name)) {
      const info = await lstatOrNothing(path.real).catch(() => undefined);
      if (info) pending.see(user.name, path.virtual, info, pass.number);
    }
    if (holdBack(leaf)) return;
    await this.#exclusive(path.real, async () => {
      // Taken in meanwhile (by an upload of the same name): nothing to do.
      if (await lstatOrNothing(path.real)) await this.#takeInOrSay(user, jail, path, "rescan");
    }).catch(() => {});
  }
}

async function lstatOrNothing(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await lstatOrNothing(path)) !== undefined;
}

/** Lower-case hex SHA-256 of `bytes`. */
async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `prefix + name`, cutting the start of `name` so that it fits in {@link NAME_MAX} bytes. */
function fitName(prefix: string, name: string): string {
  const encoder = new TextEncoder();
  let chars = [...name];
  while (chars.length > 1 && encoder.encode(prefix + chars.join("")).length > NAME_MAX) {
    chars = chars.slice(1);
  }
  return prefix + chars.join("");
}
