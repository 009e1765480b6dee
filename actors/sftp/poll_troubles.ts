/**
 * What a poller remembers, in memory, about files it keeps meeting with the same trouble (a file
 * it may not open, a file it stored but may not archive): so each file and reason is logged once,
 * not at every poll, and the actor's status can show them with a count of polls. An entry goes
 * when the file is taken or cleared, or once a complete listing no longer shows the file.
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
