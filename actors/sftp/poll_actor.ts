/**
 * The poller of an SFTP integration (`sftp-poll:<integrationId>`): every `intervalSeconds` it
 * logs in, lists the folder, and takes each file matching the pattern, oldest first; what becomes
 * of each file (stored then archived or deleted, moved to the error folder, skipped, left in
 * place) is `poll_take.ts`'s. A file that cannot be taken is skipped and the poll goes on; the
 * actor's status shows such files (`notTaken`) and files stored but left in place
 * (`leftInPlace`), each with its reason.
 *
 * While KV cannot commit (a full disk) no poll runs: files stay where they are until it can.
 * A failure before the store commits leaves the file in place; a crash between the commit and
 * the archive leads to a download next time that the sink recognises by content hash. Poll errors
 * are logged with their reason and retried at the next interval. Temporary names (`.x`, `*.part`,
 * `*.tmp`…) are left alone until their sender renames them.
 *
 * A listing reads at most {@link MAX_LISTED_ENTRIES} entries (100,000): a larger folder is still
 * polled, from the entries read (the server's order), and that is logged once (`sftp.listing-cut`).
 *
 * Every request has a deadline (the connect, the list, each read…; `sftpDeadlineMs` in
 * `bounded_session.ts`; a listing's restarts at each answer): a server that stops answering SFTP
 * while SSH stays alive (a hung disk behind it) ends the poll at the deadline with the session
 * closed, logged like any poll error (`sftp.poll-failed`, e.g. `the SFTP server did not answer
 * within 60 s (list in); session closed`), and the next poll runs at its interval on a new session.
 * @module
 */

import type {
  Actor,
  ActorCommand,
  ActorState,
  ActorStatus,
  CommandResult,
} from "../runtime/actor.ts";
import { Wakeup } from "../runtime/actor.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Store } from "../store/store.ts";
import type { ActorControl } from "../store/types.ts";
import type { SftpEntry, SftpSessionSource } from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";
import type { FileInboxResult, ReceivedFile } from "./file_inbox.ts";
import {
  type BoundedSftpSession,
  openWithin,
  SFTP_REQUEST_TIMEOUT_MS,
  type SftpDeadlines,
} from "./bounded_session.ts";
import { FileTaker, type PollPass } from "./poll_take.ts";
import { globMatcher, isTemporaryName, joinPath } from "../../codecs/files/mod.ts";

/** Most entries one poll lists: 100,000 (see the module doc). */
export const MAX_LISTED_ENTRIES = 100_000;

/**
 * The longest file name a poll keeps from a listing: 1,024 characters (file systems allow 255).
 * A longer name is left out and logged (`sftp.name-too-long`): a server listing huge names (up to
 * 256 KiB each) would otherwise make one listing of {@link MAX_LISTED_ENTRIES} cost gigabytes.
 */
export const MAX_LISTED_NAME_LENGTH = 1024;

/**
 * A listed name that cannot be a file of the folder listed: one holding `/` (a path, which the
 * poll would open and archive as one, anywhere on the server), NUL, CR or LF. A broken or hostile
 * server's; left out of the poll and logged (`sftp.name-refused`).
 */
export function isRefusedListedName(name: string): boolean {
  return /[\/\0\r\n]/.test(name);
}

/** The identity of an integration's poller. */
export function pollActorId(integrationId: string): string {
  return `sftp-poll:${integrationId}`;
}

/** Where files go once stored: the config's `afterIngest` with its folders. */
export interface SftpPollSettings {
  folder: string;
  pattern: string;
  intervalSeconds: number;
  afterIngest: "archive" | "delete";
  /** Relative to `folder` unless absolute. */
  archiveFolder: string;
  /** Relative to `folder` unless absolute. */
  errorFolder: string;
}

/** Takes a downloaded file in durably (a {@link FileInbox}). */
export interface FileSink {
  ingest(file: ReceivedFile): Promise<FileInboxResult>;
}

/** What a poller is made of. */
export interface SftpPollActorOptions {
  integration: { id: string; environment: string };
  settings: SftpPollSettings;
  /** Sessions to the remote server (a `RemoteSftpEndpoint`). */
  sessions: SftpSessionSource;
  sink: FileSink;
  /** Keeps an operator's pause across restarts. */
  store: Store;
  clock: Clock;
  log: Logger;
  /** Files above this size go to the error folder (config `limits.maxHl7Bytes`). */
  maxFileBytes: number;
  /** Where X12 acknowledgments are written (config `x12.ackFolder`, relative to `folder`). */
  ackFolder?: string;
  /**
   * A request (the connect, the list, a read…) not answered within this closes the session and
   * ends the poll; default {@link SFTP_REQUEST_TIMEOUT_MS} (see `sftpDeadlineMs`).
   */
  requestTimeoutMs?: number;
  /** Most entries a poll lists, default {@link MAX_LISTED_ENTRIES}. */
  maxListedEntries?: number;
}

/** What the last poll did. */
export interface PollSummary {
  at: number;
  durationMs: number;
  /** Files listed that match the pattern. */
  listed: number;
  taken: number;
  stored: number;
  duplicates: number;
  movedToError: number;
  waiting: number;
  /** Files skipped: the server would not hand them over (see the status's `notTaken`). */
  notTaken: number;
  /** Files stored at an earlier poll and still left in place, not taken again. */
  leftInPlace: number;
  /** The folder holds more entries than a poll lists. */
  listingCut: boolean;
  /** Names left out of the listing for their length ({@link MAX_LISTED_NAME_LENGTH}). */
  namesTooLong: number;
}

/** See the module doc. */
export class SftpPollActor implements Actor {
  readonly id: string;
  readonly kind = "sftp-poll";
  readonly #options: SftpPollActorOptions;
  readonly #match: (name: string) => boolean;
  readonly #wake = new Wakeup();
  readonly #deadlines: SftpDeadlines;
  readonly #taker: FileTaker;
  readonly #maxListed: number;
  /** `sftp.listing-cut` was logged, and no complete listing came since. */
  #cutLogged = false;
  #longNamesLogged = false;
  /** `sftp.name-refused` was logged, and no listing without such a name came since. */
  #refusedNamesLogged = false;
  #state: ActorState = "idle";
  #control: ActorControl | undefined;
  #lastPoll: PollSummary | undefined;
  #lastError: string | undefined;
  #nextPollAt: number | undefined;
  #polls = 0;

  /** A poller; throws when the pattern is unusable. */
  constructor(options: SftpPollActorOptions) {
    this.id = pollActorId(options.integration.id);
    this.#options = options;
    this.#match = globMatcher(options.settings.pattern);
    this.#deadlines = {
      clock: options.clock,
      requestTimeoutMs: options.requestTimeoutMs ?? SFTP_REQUEST_TIMEOUT_MS,
    };
    this.#taker = new FileTaker(this.id, options);
    this.#maxListed = options.maxListedEntries ?? MAX_LISTED_ENTRIES;
  }

  /** Polls now (an operator's retry, or a test). */
  notify(): void {
    this.#wake.wake();
  }

  /** Polls every interval until stopped; a poller does not deactivate. */
  async run(signal: AbortSignal): Promise<void> {
    const { store, clock } = this.#options;
    const intervalMs = this.#options.settings.intervalSeconds * 1000;
    const stored = await store.getControl(this.id);
    this.#control ??= stored;
    try {
      while (!signal.aborted) {
        if (!this.#control.paused) {
          await this.poll(signal);
          this.#state = "idle";
        } else this.#state = "paused";
        if (signal.aborted) break;
        this.#nextPollAt = clock.now() + intervalMs;
        await clock.sleep(intervalMs, AbortSignal.any([signal, this.#wake.signal()]));
        this.#nextPollAt = undefined;
      }
    } finally {
      this.#state = "stopped";
    }
  }

  /** One poll; never throws (its error is logged and kept for the status). */
  async poll(signal: AbortSignal): Promise<PollSummary | undefined> {
    const { clock, log, sessions, settings, store } = this.#options;
    if (!(await store.health.check()).writable) {
      // Nothing taken now could be stored: leave every file in place (the store logs the fault).
      this.#lastError = `not polled: storage is not writable: ${store.health.state.reason}`;
      return undefined;
    }
    const started = clock.now();
    // The duration on the monotonic clock: a wall-clock step during the poll is not part of it.
    const startedMono = clock.monotonic();
    const summary: PollSummary = {
      at: started,
      durationMs: 0,
      listed: 0,
      taken: 0,
      stored: 0,
      duplicates: 0,
      movedToError: 0,
      waiting: 0,
      notTaken: 0,
      leftInPlace: 0,
      listingCut: false,
      namesTooLong: 0,
    };
    let session: BoundedSftpSession | undefined;
    const onAbort = () => session?.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.#state = "connecting";
      session = await openWithin(sessions, this.#deadlines, signal);
      this.#state = "processing";
      const left = await this.#taker.markers.load();
      const entries = await this.#list(session, summary);
      const files = entries
        .filter((e) => e.isFile && this.#match(e.name) && !isTemporaryName(e.name))
        .sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
      summary.listed = files.length;
      const pass: PollPass = { session, summary, made: new Set(), signal, left };
      for (const entry of files) {
        if (signal.aborted) break;
        await this.#taker.take(pass, entry);
      }
      if (!summary.listingCut && !signal.aborted) {
        const present = entries.filter((e) => e.isFile).map((e) =>
          joinPath(settings.folder, e.name)
        );
        await this.#taker.settle(pass, new Set(present));
      }
      this.#lastError = undefined;
      this.#polls++;
      if (summary.taken + summary.movedToError > 0) {
        log.info("sftp.polled", { actor: this.id, ...summary, at: undefined });
      }
      return summary;
    } catch (error) {
      if (signal.aborted) return undefined;
      this.#lastError = errorMessage(error);
      log.error("sftp.poll-failed", {
        actor: this.id,
        remote: sessions.describe()["remote"],
        reason: this.#lastError,
        retryInSeconds: settings.intervalSeconds,
      });
      return undefined;
    } finally {
      signal.removeEventListener("abort", onAbort);
      session?.close();
      summary.durationMs = clock.monotonic() - startedMono;
      this.#lastPoll = summary;
    }
  }

  /**
   * The folder's entries, at most {@link MAX_LISTED_ENTRIES} (or `maxListedEntries`): a longer
   * folder sets `listingCut` and is logged once, until a listing is complete again.
   */
  async #list(session: BoundedSftpSession, summary: PollSummary): Promise<SftpEntry[]> {
    const { settings, log } = this.#options;
    const max = this.#maxListed;
    let longest: { length: number; start: string } | undefined;
    const entries = await session.list(settings.folder, {
      maxEntries: max,
      maxNameLength: MAX_LISTED_NAME_LENGTH,
      onLongName: (length, start) => {
        summary.namesTooLong++;
        longest ??= { length, start };
      },
    });
    if (longest && !this.#longNamesLogged) {
      log.warn("sftp.name-too-long", {
        actor: this.id,
        folder: settings.folder,
        count: summary.namesTooLong,
        first: `${longest.start}…`,
        length: longest.length,
        reason: `the server listed names longer than ${MAX_LISTED_NAME_LENGTH} characters; ` +
          "they are left out of each poll",
      });
    }
    this.#longNamesLogged = longest !== undefined;
    const refused = entries.filter((e) => isRefusedListedName(e.name));
    if (refused.length > 0 && !this.#refusedNamesLogged) {
      log.warn("sftp.name-refused", {
        actor: this.id,
        folder: settings.folder,
        count: refused.length,
        first: JSON.stringify(refused[0]!.name.slice(0, 64)),
        reason: "the server listed names holding /, NUL, CR or LF, which no file of the folder " +
          "has; they are left out of each poll",
      });
    }
    this.#refusedNamesLogged = refused.length > 0;
    const kept = refused.length > 0 ? entries.filter((e) => !isRefusedListedName(e.name)) : entries;
    summary.listingCut = entries.length > max;
    if (summary.listingCut && !this.#cutLogged) {
      log.warn("sftp.listing-cut", {
        actor: this.id,
        folder: settings.folder,
        limit: max,
        reason: `the folder holds more than ${max} entries; each poll lists the first ${max} ` +
          "the server sends and takes the matching files among them",
      });
    }
    this.#cutLogged = summary.listingCut;
    return summary.listingCut ? kept.slice(0, max) : kept;
  }

  /** Pause and resume polling; retry polls now; skip does not apply. */
  async command(command: ActorCommand, by: string, reason: string): Promise<CommandResult> {
    const { store, clock } = this.#options;
    switch (command) {
      case "pause":
      case "resume": {
        this.#control = { paused: command === "pause", by, reason, at: clock.now() };
        await store.setControl(this.id, this.#control);
        this.#wake.wake();
        return { ok: true, message: command === "pause" ? "polling paused" : "polling resumed" };
      }
      case "retry": {
        if (this.#control?.paused) return { ok: false, message: "polling is paused" };
        this.#wake.wake();
        return { ok: true, message: "polling now" };
      }
      case "skip":
        return { ok: false, message: "a poller has no queue to skip; pause it instead" };
    }
  }

  /**
   * Last poll, last error, next poll, the endpoint with the key in use, and the files in trouble
   * (`notTaken`, `leftInPlace`: a count and the first 20, each with its reason, since when and
   * for how many polls).
   */
  status(): Promise<ActorStatus> {
    const { settings, sessions } = this.#options;
    const notTaken = this.#taker.notTaken.report();
    const leftInPlace = this.#taker.leftInPlace.report();
    const status: ActorStatus = {
      id: this.id,
      kind: this.kind,
      state: this.#state,
      queueDepth: 0,
      detail: {
        ...sessions.describe(),
        folder: settings.folder,
        pattern: settings.pattern,
        intervalSeconds: settings.intervalSeconds,
        polls: this.#polls,
        ...(this.#lastPoll ? { lastPoll: this.#lastPoll } : {}),
        ...(notTaken ? { notTaken } : {}),
        ...(leftInPlace ? { leftInPlace } : {}),
      },
    };
    if (this.#lastPoll) status.lastActivityAt = this.#lastPoll.at;
    if (this.#lastError) status.lastError = this.#lastError;
    if (this.#nextPollAt !== undefined) status.nextRetryAt = this.#nextPollAt;
    if (this.#control?.paused) {
      status.paused = {
        ...(this.#control.by ? { by: this.#control.by } : {}),
        ...(this.#control.reason ? { reason: this.#control.reason } : {}),
        ...(this.#control.at ? { at: this.#control.at } : {}),
      };
    }
    return Promise.resolve(status);
  }
}
