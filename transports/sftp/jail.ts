/**
 * Confinement of a hosted SFTP user to its folder. The folder is the user's `/`; every path the
 * client sends, absolute or relative, is resolved inside it. A `..` that would climb above it is
 * refused (not clamped), and so is any path that passes through a symbolic link, so nothing
 * outside the folder can be named, read or written.
 * @module
 */

import { join } from "node:path";

const encoder = new TextEncoder();

/** A path was refused; answered with SFTP's PERMISSION_DENIED. */
export class JailError extends Error {
  /** `path` was refused because of `reason`. */
  constructor(path: string, reason: string) {
    super(`${JSON.stringify(path)}: ${reason}`);
    this.name = "JailError";
  }
}

/** The longest name, in bytes, of a file or folder (ext4, xfs, btrfs, tmpfs). */
export const NAME_MAX = 255;

/** A path with a name longer than {@link NAME_MAX} bytes; answered with a plain failure. */
export class NameTooLong extends Error {
  /** A name in the path is too long. */
  constructor() {
    super(`file name longer than ${NAME_MAX} bytes`);
    this.name = "NameTooLong";
  }
}

/** A path resolved inside the folder. */
export interface JailedPath {
  /** As the client sees it: `/`, `/outbox/a.hl7`. */
  virtual: string;
  /** The segments of `virtual`. */
  segments: string[];
  /** On disk. */
  real: string;
}

/** See the module doc. */
export class FolderJail {
  /** The folder on disk (absolute, no symlinks in it). */
  readonly home: string;

  /** Confines to `home`, which must be an absolute real path. */
  constructor(home: string) {
    this.home = home;
  }

  /**
   * Resolves a client path; throws {@link JailError} if it escapes or holds a NUL, and
   * {@link NameTooLong} if one of its names is longer than the file system takes.
   */
  resolve(path: string): JailedPath {
    if (path.includes("\0")) throw new JailError(path, "a path must not contain NUL");
    const segments: string[] = [];
    for (const part of path.split("/")) {
      if (part === "" || part === ".") continue;
      if (part.length > NAME_MAX / 3 && encoder.encode(part).length > NAME_MAX) {
        throw new NameTooLong();
      }
      if (part === "..") {
        if (segments.length === 0) throw new JailError(path, "the path leaves your folder");
        segments.pop();
      } else segments.push(part);
    }
    return {
      virtual: "/" + segments.join("/"),
      segments,
      real: segments.length === 0 ? this.home : join(this.home, ...segments),
    };
  }

  /**
   * Resolves and checks that no existing component of the path is a symbolic link (a link placed
   * in the folder by someone on the host must not lead out of it). Missing components are fine:
   * the caller decides whether the path must exist. Asynchronous: a slow disk holds this request,
   * not the engine's thread.
   */
  async resolveChecked(path: string): Promise<JailedPath> {
    const resolved = this.resolve(path);
    let real = this.home;
    for (const segment of resolved.segments) {
      real = join(real, segment);
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(real);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) break;
        throw error;
      }
      if (info.isSymlink) {
        throw new JailError(path, "symbolic links are not followed");
      }
    }
    return resolved;
  }
}
