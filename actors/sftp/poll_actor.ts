/**
 * The poller of an SFTP integration (`sftp-poll:<integrationId>`): every `intervalSeconds` it
 * logs in, lists the folder, and takes each file matching the pattern, oldest first:
 *
 * - larger than the limit: moved to the error folder and logged, never downloaded;
 * - otherwise downloaded whole, checked unchanged (a file still being written waits for the next
 *   poll), handed to the {@link FileSink} (which stores it durably in queue `sftp:<id>`), and only
 *   then moved to the archive folder or deleted.
 *
 * While KV cannot commit (a full disk) no poll runs: files stay where they are until it can.
 * A failure before the store commits leaves the file in place; a crash between the commit and
 * the archive leads to a download next time that the sink recognises by content hash. Poll errors
 * are logged with their reason and retried at the next interval. Temporary names (`.x`, `*.part`,
 * `*.tmp`…) are left alone until their sender renames them.
 *
 * Every request has a deadline (the connect, the list, each read…; `sftpDeadlineMs` in
 * `sftp_deliverer.ts`): a server that stops answering SFTP while SSH stays alive (a hung disk
 * behind it) ends the poll at the deadline with the session closed, logged like any poll error
 * (`sftp.poll-failed`, e.g. `the SFTP server did not answer within 60 s (list in); session
 * closed`), and the next poll runs at its interval on a new session.
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
import {
  FileTooLargeError,
  type SftpEntry,
  type SftpSession,
  type SftpSessionSource,
} from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";
import type { FileInboxResult, ReceivedFile } from "./file_inbox.ts";
import {
  type BoundedSftpSession,
  openWithin,
  SFTP_REQUEST_TIMEOUT_MS,
  type SftpDeadlines,
} from "./bounded_session.ts";
import { writeAcknowledgment } from "./ack_writer.ts";
import { fileTimestamp, globMatcher, isTemporaryName, joinPath } from "../../codecs/files/mod.ts";

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
}

/** What the last poll did. */
export interface PollSummary {
  at: number;
  durationMs: number;
  listed: number;
  taken: number;
  stored: number;
  duplicates: number;
  movedToError: number;
  waiting: number;
}

/** See the module doc. */
export class SftpPollActor implements Actor {
  readonly id: string;
  readonly kind = "sftp-poll";
  readonly #options: SftpPollActorOptions;
  readonly #match: (name: string) => boolean;
  readonly #wake = new Wakeup();
  readonly #deadlines: SftpDeadlines;
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
    const summary: PollSummary = {
      at: started,
      durationMs: 0,
      listed: 0,
      taken: 0,
      stored: 0,
      duplicates: 0,
      movedToError: 0,
      waiting: 0,
    };
    let session: BoundedSftpSession | undefined;
    const onAbort = () => session?.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.#state = "connecting";
      session = await openWithin(sessions, this.#deadlines, signal);
      this.#state = "processing";
      const entries = await session.list(settings.folder);
      const files = entries
        .filter((e) => e.isFile && this.#match(e.name) && !isTemporaryName(e.name))
        .sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
      summary.listed = files.length;
      const made = new Set<string>();
      for (const entry of files) {
        if (signal.aborted) break;
        await this.#take(session, entry, summary, made, signal);
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
      summary.durationMs = clock.now() - started;
      this.#lastPoll = summary;
    }
  }

  /** One file; throws on anything that should end the poll (connection, store). */
  async #take(
    session: BoundedSftpSession,
    entry: SftpEntry,
    summary: PollSummary,
    made: Set<string>,
    signal: AbortSignal,
  ): Promise<void> {
    const { settings, log, maxFileBytes } = this.#options;
    const path = joinPath(settings.folder, entry.name);
    if (entry.size > maxFileBytes) {
      await this.#moveAside(session, entry.name, entry.size, made);
      summary.movedToError++;
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = await session.read(path, {
        maxBytes: maxFileBytes,
        signal,
        expectedBytes: entry.size,
      });
    } catch (error) {
      if (!(error instanceof FileTooLargeError)) throw error;
      await this.#moveAside(session, entry.name, error.size, made);
      summary.movedToError++;
      return;
    }
    // A sender still writing under the final name: take it when it has stopped changing.
    const after = await session.stat(path);
    if (!after || after.size !== bytes.length || after.mtimeMs !== entry.mtimeMs) {
      summary.waiting++;
      log.info("sftp.file-changing", {
        actor: this.id,
        file: path,
        listed: entry.size,
        downloaded: bytes.length,
        now: after?.size,
      });
      return;
    }
    const result = await this.#options.sink.ingest({
      integration: this.#options.integration,
      fileName: entry.name,
      bytes,
      peer: String(this.#options.sessions.describe()["remote"] ?? ""),
    });
    if (result.acknowledgment && this.#options.ackFolder !== undefined) {
      await this.#acknowledge(session, entry.name, result.acknowledgment);
    }
    summary.taken++;
    summary.stored += result.stored;
    summary.duplicates += result.duplicates;
    try {
      if (settings.afterIngest === "delete") await session.remove(path);
      else await this.#moveTo(session, settings.archiveFolder, entry.name, made);
    } catch (error) {
      // Stored but still there: the next poll downloads it again and the sink recognises it.
      log.error("sftp.archive-failed", {
        actor: this.id,
        file: path,
        afterIngest: settings.afterIngest,
        reason: errorMessage(error),
      });
      if (!session.open) throw error;
    }
  }

  /** Writes a file's TA1 / 999; a failure is logged (the file is stored all the same). */
  async #acknowledge(
    session: SftpSession,
    name: string,
    ack: { fileName: string; bytes: Uint8Array },
  ): Promise<void> {
    const { settings, log, clock } = this.#options;
    const folder = this.#options.ackFolder!;
    const dir = folder.startsWith("/") ? folder : joinPath(settings.folder, folder);
    try {
      const path = await writeAcknowledgment(session, dir, ack.fileName, ack.bytes, clock.now());
      log.info("sftp.x12-acknowledged", { actor: this.id, file: name, ack: path });
    } catch (error) {
      log.error("sftp.x12-ack-failed", { actor: this.id, file: name, reason: errorMessage(error) });
      if (!session.open) throw error;
    }
  }

  async #moveAside(
    session: SftpSession,
    name: string,
    size: number,
    made: Set<string>,
  ): Promise<void> {
    const { settings, log, maxFileBytes } = this.#options;
    const to = await this.#moveTo(session, settings.errorFolder, name, made);
    log.warn("sftp.file-too-large", {
      actor: this.id,
      file: joinPath(settings.folder, name),
      size,
      limit: maxFileBytes,
      movedTo: to,
    });
  }

  /** Moves `name` into `folder` (made if missing); a name already taken there gets a prefix. */
  async #moveTo(
    session: SftpSession,
    folder: string,
    name: string,
    made: Set<string>,
  ): Promise<string> {
    const { settings, clock } = this.#options;
    const dir = folder.startsWith("/") ? folder : joinPath(settings.folder, folder);
    if (!made.has(dir)) {
      await session.mkdir(dir, { recursive: true });
      made.add(dir);
    }
    const from = joinPath(settings.folder, name);
    let to = joinPath(dir, name);
    if (await session.stat(to)) to = joinPath(dir, `${fileTimestamp(clock.now())}-${name}`);
    await session.rename(from, to);
    return to;
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

  /** Last poll, last error, next poll and the endpoint with the key in use. */
  status(): Promise<ActorStatus> {
    const { settings, sessions } = this.#options;
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
