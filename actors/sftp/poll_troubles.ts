/**
 * What a poller remembers, in memory, about files it keeps meeting with the same trouble (a file
 * it may not open, a file it stored but may not archive): so each file and reason is logged once,
 * not at every poll, and the actor's status can show them with a count of polls. An entry goes
 * when the file is taken or cleared, or once a complete listing no longer shows the file. Files
 * found changing ({@link ChangingFiles}) are logged once, then at a bounded rate.
 * @module
 */

/** One file in trouble, as the actor's status shows it. */
export interface FileTrouble {
  /** The file's path on the server (`in/old.hl7`). */
  file: string;
  reason: string;
  /** When this reason was first met (ms since the epoch). */
  since: number;
  /** Polls that met it, the first included. */
  polls: number;
}

/** Files shown at most in a status (the count says how many there are). */
export const TROUBLES_SHOWN = 20;

/** See the module doc. */
export class FileTroubles {
  readonly #byFile = new Map<string, FileTrouble>();

  /**
   * Notes that `file` met `reason` at `at`. True when that is news (the file was not in trouble,
   * or for another reason): the caller logs it then, and only then.
   */
  note(file: string, reason: string, at: number): boolean {
    const known = this.#byFile.get(file);
    if (known && known.reason === reason) {
      known.polls++;
      return false;
    }
    this.#byFile.set(file, { file, reason, since: at, polls: 1 });
    return true;
  }

  /** Whether `file` is in trouble. */
  has(file: string): boolean {
    return this.#byFile.has(file);
  }

  /** `file` is out of trouble (taken, cleared). */
  clear(file: string): void {
    this.#byFile.delete(file);
  }

  /** Forgets every file not in `present` (a complete listing's paths). */
  keepOnly(present: ReadonlySet<string>): void {
    for (const file of this.#byFile.keys()) if (!present.has(file)) this.#byFile.delete(file);
  }

  /** For the status: how many, and the first {@link TROUBLES_SHOWN}; undefined when none. */
  report(): { count: number; files: FileTrouble[] } | undefined {
    if (this.#byFile.size === 0) return undefined;
    const files: FileTrouble[] = [];
    for (const t of this.#byFile.values()) {
      if (files.length === TROUBLES_SHOWN) break;
      files.push({ ...t });
    }
    return { count: this.#byFile.size, files };
  }
}

/** A file that keeps changing while listed the same is logged again at most this often. */
export const CHANGING_RELOG_MS = 3_600_000;

/** Files {@link ChangingFiles} remembers at most (the oldest is forgotten first). */
export const CHANGING_FILES_KEPT = 10_000;

/**
 * The `sftp.file-changing` lines of a poller: a file found changing is logged once as listed (its
 * size and time), then at most once per {@link CHANGING_RELOG_MS} while it is listed the same,
 * with the polls not logged in between: a file whose reads always go past its listed size (a
 * broken or hostile server's) would otherwise get a line at every poll, for ever.
 * A file still being written is listed with a new size or time at each poll: logged each time, as
 * it is news. An entry goes when the file is taken, once a complete listing no longer shows it,
 * or, past {@link CHANGING_FILES_KEPT} files, the oldest first (it is then logged as news again).
 */
export class ChangingFiles {
  readonly #byFile = new Map<string, { listedAs: string; loggedAt: number; unlogged: number }>();

  /**
   * Notes that `file`, listed as `listedAs` (its size and time), was found changing at `at`
   * (monotonic ms). Returns undefined when this is not to be logged, else how many polls found it
   * so, unlogged, since its last line (0 for a file new here or listed otherwise).
   */
  note(file: string, listedAs: string, at: number): number | undefined {
    const known = this.#byFile.get(file);
    if (known && known.listedAs === listedAs) {
      if (at - known.loggedAt < CHANGING_RELOG_MS) {
        known.unlogged++;
        return undefined;
      }
      const unlogged = known.unlogged;
      Object.assign(known, { loggedAt: at, unlogged: 0 });
      return unlogged;
    }
    this.#byFile.delete(file);
    if (this.#byFile.size >= CHANGING_FILES_KEPT) {
      const oldest = this.#byFile.keys().next();
      if (!oldest.done) this.#byFile.delete(oldest.value);
    }
    this.#byFile.set(file, { listedAs, loggedAt: at, unlogged: 0 });
    return 0;
  }

  /** `file` no longer changes (taken). */
  clear(file: string): void {
    this.#byFile.delete(file);
  }

  /** Forgets every file not in `present` (a complete listing's paths). */
  keepOnly(present: ReadonlySet<string>): void {
    for (const file of this.#byFile.keys()) if (!present.has(file)) this.#byFile.delete(file);
  }
}
