/**
 * Taking in files uploaded to the hosted folder: read the completed file, hand it to the engine
 * (`onUpload`, which stores it durably) and only then move it to the user's `archive/`. If the
 * engine refuses, the file stays where it is, is logged, and is offered again by the next rescan
 * (at start and periodically), which also removes staging files left by interrupted uploads.
 * @module
 */

import { dirname, join, relative } from "node:path";
import type { Logger } from "../../actors/ports.ts";
import type { FolderJail, JailedPath } from "./jail.ts";
import type { HostedUser } from "./server_users.ts";
import { errorMessage } from "../../actors/mod.ts";

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

/** Staging files that uploads are written to until the client closes them. */
export const STAGING = /^\..+\.[0-9a-f]{12}\.upload$/;

/** What the desk needs. */
export interface UploadDeskOptions {
  /** Stores the upload durably; rejecting leaves the file in place. */
  onUpload(upload: Upload): Promise<void>;
  /** Names still being written by their sender (taken in once renamed). */
  holdBack(name: string): boolean;
  maxFileBytes: number;
  log: Logger;
}

/** See the module doc. */
export class UploadDesk {
  readonly #options: UploadDeskOptions;
  /** Real paths being taken in right now, with the work under way. */
  readonly #busy = new Map<string, Promise<void>>();
  /** Staging files of uploads under way. */
  readonly #staging = new Set<string>();

  /** A desk handing uploads to `options.onUpload`. */
  constructor(options: UploadDeskOptions) {
    this.#options = options;
  }

  /** Whether a name is held back until renamed. */
  holdBack(name: string): boolean {
    return this.#options.holdBack(name);
  }

  /** A fresh staging path next to `real`, registered as in use. */
  stage(real: string): string {
    const random = crypto.getRandomValues(new Uint8Array(6));
    const tag = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
    const leaf = real.split("/").pop() ?? "file";
    const staging = join(dirname(real), `.${leaf}.${tag}.upload`);
    this.#staging.add(staging);
    return staging;
  }

  /** The staging file is gone (renamed or removed). */
  unstage(staging: string): void {
    this.#staging.delete(staging);
  }

  /**
   * Takes in the completed file at `path`: engine first, then archive. Rejects with the reason
   * when the engine refused (the file stays in place).
   */
  async takeIn(user: HostedUser, jail: FolderJail, path: JailedPath, peer: string): Promise<void> {
    // One at a time per path: a re-upload while a rescan takes the old content waits for it.
    for (let earlier = this.#busy.get(path.real); earlier; earlier = this.#busy.get(path.real)) {
      await earlier.catch(() => {});
    }
    const work = this.#takeIn(user, jail, path, peer);
    this.#busy.set(path.real, work);
    try {
      await work;
    } finally {
      this.#busy.delete(path.real);
    }
  }

  async #takeIn(user: HostedUser, jail: FolderJail, path: JailedPath, peer: string): Promise<void> {
    const { log } = this.#options;
    const info = await Deno.stat(path.real);
    if (info.size > this.#options.maxFileBytes) {
      throw new Error(
        `the file has ${info.size} bytes, over the limit of ${this.#options.maxFileBytes}`,
      );
    }
    const bytes = await Deno.readFile(path.real);
    const fileName = path.segments[path.segments.length - 1] ?? "file";
    try {
      await this.#options.onUpload({
        user: user.name,
        integration: user.integration,
        path: path.virtual,
        fileName,
        bytes,
        peer,
      });
    } catch (error) {
      log.error("sftp-server.upload-not-stored", {
        user: user.name,
        file: path.virtual,
        bytes: bytes.length,
        reason: errorMessage(error),
      });
      throw error;
    }
    const archived = await this.#archive(jail, path);
    log.info("sftp-server.upload-taken", {
      user: user.name,
      integration: user.integration,
      file: path.virtual,
      bytes: bytes.length,
      archivedAs: archived,
      peer,
    });
  }

  /** Moves a taken file to `archive/` (same relative path; a taken name gets a time prefix). */
  async #archive(jail: FolderJail, path: JailedPath): Promise<string | undefined> {
    const rel = path.segments.join("/");
    let target = join(jail.home, "archive", rel);
    try {
      await Deno.mkdir(dirname(target), { recursive: true, mode: 0o750 });
      if (await exists(target)) {
        const stamp = new Date().toISOString().replace(/[-:]/g, "");
        target = join(dirname(target), `${stamp}-${path.segments[path.segments.length - 1]}`);
      }
      await Deno.rename(path.real, target);
      return "/" + relative(jail.home, target);
    } catch (error) {
      // Stored but not moved: the rescan offers it again and the engine recognises it.
      this.#options.log.error("sftp-server.archive-failed", {
        file: path.virtual,
        reason: errorMessage(error),
      });
      return undefined;
    }
  }

  /**
   * Offers again every completed file left in the users' upload space, and removes staging files
   * that no upload under way owns (left by a crash or a dropped connection).
   */
  async rescan(users: { user: HostedUser; jail: FolderJail }[]): Promise<void> {
    for (const { user, jail } of users) {
      for (const path of this.#walk(jail, [], 0)) {
        const leaf = path.segments[path.segments.length - 1]!;
        if (STAGING.test(leaf)) {
          if (!this.#staging.has(path.real)) await Deno.remove(path.real).catch(() => {});
          continue;
        }
        if (this.#options.holdBack(leaf)) continue;
        await this.takeIn(user, jail, path, "rescan").catch(() => {});
      }
    }
  }

  *#walk(jail: FolderJail, segments: string[], depth: number): Generator<JailedPath> {
    if (depth > 8) return;
    const dir = join(jail.home, ...segments);
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      if (depth === 0 && RESERVED.has(e.name)) continue;
      const next = [...segments, e.name];
      if (e.isDirectory) yield* this.#walk(jail, next, depth + 1);
      else if (e.isFile) {
        yield { virtual: "/" + next.join("/"), segments: next, real: join(jail.home, ...next) };
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
