/**
 * What a poller does with each file it lists (`poll_actor.ts` lists them and runs the polls):
 *
 * - larger than the limit: moved to the error folder and logged, never downloaded;
 * - otherwise downloaded whole, checked unchanged (a file still being written waits for the next
 *   poll, with `sftp.file-changing` once as listed, then at most hourly), handed to the
 *   {@link FileSink}, and only then moved to the archive folder or deleted;
 * - stored but not archived or deleted (a read-only share, a lost connection): marked in KV
 *   (`actors/store/left_in_place.ts`) and logged once (`sftp.archive-failed`, WARN); while the file stays
 *   there unchanged it is not taken again, however long (the archive is tried again at each poll,
 *   quietly; once it succeeds the marker goes and `sftp.left-file-cleared` is logged);
 * - a file the server will not hand over (open or read refused, gone since the listing, a
 *   too-large file whose move is refused) is skipped, logged once per file and reason
 *   (`sftp.file-not-taken`, WARN), shown in the status, and tried again at the next poll. The
 *   poll goes on with the other files: one bad file never blocks the newer ones.
 *
 * What ends the poll instead: a session-level failure (the connection lost, a request past its
 * deadline) and a store that fails (the file then stays in place for the next poll).
 * @module
 */

import { fileTimestamp, joinPath } from "../../codecs/files/mod.ts";
import { errorMessage } from "../runtime/errors.ts";
import { writeAcknowledgment } from "./ack_writer.ts";
import type { BoundedSftpSession } from "./bounded_session.ts";
import {
  FileTooLargeError,
  type SftpEntry,
  type SftpSession,
  SftpStatusError,
} from "./connector.ts";
import { sha256Hex } from "./file_inbox.ts";
import { type LeftFile, LeftInPlace } from "../store/left_in_place.ts";
import type { PollSummary, SftpPollActorOptions } from "./poll_actor.ts";
import { ChangingFiles, FileTroubles } from "./poll_troubles.ts";

/** One poll's state, shared by the files it takes. */
export interface PollPass {
  session: BoundedSftpSession;
  summary: PollSummary;
  /** Folders made (or found there) during this poll. */
  made: Set<string>;
  signal: AbortSignal;
  /** Markers of files stored but left in place, by path (read at the start of the poll). */
  left: Map<string, LeftFile>;
}

/** A file-level refusal that is not an SFTP status of its own. */
class NotTakenError extends Error {}

/** Whether `error` concerns one file only, the session going on (else the poll ends). */
function fileLevel(error: unknown, session: SftpSession): boolean {
  if (!session.open) return false;
  if (error instanceof NotTakenError) return true;
  return error instanceof SftpStatusError && error.kind !== "connection-lost";
}

/** See the module doc. */
export class FileTaker {
  /** Files skipped at the last polls, and why. */
  readonly notTaken: FileTroubles = new FileTroubles();
  /** Files stored but left in place, and why. */
  readonly leftInPlace: FileTroubles = new FileTroubles();
  /** Files found changing, for their `sftp.file-changing` lines. */
  readonly changing: ChangingFiles = new ChangingFiles();
  /** The durable markers of files left in place. */
  readonly markers: LeftInPlace;
  readonly #actor: string;
  readonly #o: SftpPollActorOptions;

  /** The file handling of poller `actor`. */
  constructor(actor: string, options: SftpPollActorOptions) {
    this.#actor = actor;
    this.#o = options;
    this.markers = new LeftInPlace(options.store.kv, options.integration.id);
  }

  /** One file; throws only on what ends the poll (the session lost, the store failing). */
  async take(pass: PollPass, entry: SftpEntry): Promise<void> {
    const path = joinPath(this.#o.settings.folder, entry.name);
    try {
      await this.#take(pass, entry, path);
      this.notTaken.clear(path);
    } catch (error) {
      if (!fileLevel(error, pass.session)) throw error;
      pass.summary.notTaken++;
      const reason = errorMessage(error);
      if (this.notTaken.note(path, reason, this.#o.clock.now())) {
        this.#o.log.warn("sftp.file-not-taken", { actor: this.#actor, file: path, reason });
      }
    }
  }

  /**
   * After a complete listing (`present`: the paths of every file in it): forgets the troubles of
   * files no longer there and drops their markers.
   */
  async settle(pass: PollPass, present: ReadonlySet<string>): Promise<void> {
    this.notTaken.keepOnly(present);
    this.leftInPlace.keepOnly(present);
    this.changing.keepOnly(present);
    const gone = [...pass.left.keys()].filter((path) => !present.has(path));
    if (gone.length > 0) await this.markers.drop(gone);
  }

  async #take(pass: PollPass, entry: SftpEntry, path: string): Promise<void> {
    const { maxFileBytes, log, clock } = this.#o;
    const { session, summary } = pass;
    const marker = pass.left.get(path);
    if (marker && marker.size === entry.size && marker.mtimeMs === entry.mtimeMs) {
      summary.leftInPlace++;
      return await this.#clear(pass, entry.name, marker, "known");
    }
    if (entry.size > maxFileBytes) return await this.#moveAside(pass, entry.name, entry.size);
    let bytes: Uint8Array;
    try {
      bytes = await session.read(path, {
        maxBytes: maxFileBytes,
        signal: pass.signal,
        expectedBytes: entry.size,
      });
    } catch (error) {
      if (!(error instanceof FileTooLargeError)) throw error;
      return await this.#moveAside(pass, entry.name, error.size);
    }
    // A sender still writing under the final name: take it when it has stopped changing.
    const after = await session.stat(path);
    if (!after || after.size !== bytes.length || after.mtimeMs !== entry.mtimeMs) {
      summary.waiting++;
      // Once as listed, then at most hourly: a server whose reads of a file always go past its
      // listed size (endless, lying) would otherwise make a line at every poll, for ever.
      const unlogged = this.changing.note(
        path,
        `${entry.size}@${entry.mtimeMs}`,
        clock.monotonic(),
      );
      if (unlogged === undefined) return;
      log.info("sftp.file-changing", {
        actor: this.#actor,
        file: path,
        listed: entry.size,
        downloaded: bytes.length,
        now: after?.size,
        ...(unlogged > 0 ? { unloggedPolls: unlogged } : {}),
      });
      return;
    }
    this.changing.clear(path);
    const seen = { size: bytes.length, mtimeMs: entry.mtimeMs };
    if (marker && (await sha256Hex(bytes)) === marker.sha256) {
      // Touched, not changed: the content stored already, still left in place.
      summary.leftInPlace++;
      return await this.#clear(pass, entry.name, { ...marker, ...seen }, "touched");
    }
    const result = await this.#o.sink.ingest({
      integration: this.#o.integration,
      fileName: entry.name,
      bytes,
      peer: String(this.#o.sessions.describe()["remote"] ?? ""),
    });
    if (result.acknowledgment && this.#o.ackFolder !== undefined) {
      await this.#acknowledge(session, entry.name, result.acknowledgment);
    }
    summary.taken++;
    summary.stored += result.stored;
    summary.duplicates += result.duplicates;
    const stored = { path, ...seen, sha256: result.sha256, storedAt: clock.now() };
    await this.#clear(pass, entry.name, stored, "new");
  }

  /**
   * Archives or deletes a stored file: `new` (just stored), `known` (left in place at an earlier
   * poll, unchanged) or `touched` (left in place, a new time but the same content). A failure
   * marks a new or touched file and logs a new one; the poll goes on unless the session is gone.
   */
  async #clear(
    pass: PollPass,
    name: string,
    file: LeftFile,
    state: "new" | "known" | "touched",
  ): Promise<void> {
    const { settings, log, clock } = this.#o;
    try {
      let movedTo: string | undefined;
      if (settings.afterIngest === "delete") await pass.session.remove(file.path);
      else movedTo = await this.#moveTo(pass, settings.archiveFolder, name);
      if (state === "new") return;
      await this.markers.drop([file.path]);
      pass.left.delete(file.path);
      this.leftInPlace.clear(file.path);
      log.info("sftp.left-file-cleared", {
        actor: this.#actor,
        file: file.path,
        afterIngest: settings.afterIngest,
        movedTo,
      });
    } catch (error) {
      if (state !== "known") {
        await this.markers.mark(file);
        pass.left.set(file.path, file);
      }
      const reason = errorMessage(error);
      this.leftInPlace.note(file.path, reason, clock.now());
      if (state === "new") {
        log.warn("sftp.archive-failed", {
          actor: this.#actor,
          file: file.path,
          afterIngest: settings.afterIngest,
          reason,
          then: "stored; left in place, and not taken again while it is there unchanged",
        });
      }
      if (!pass.session.open) throw error;
    }
  }

  /** Writes a file's TA1 / 999; a failure is logged (the file is stored all the same). */
  async #acknowledge(
    session: SftpSession,
    name: string,
    ack: { fileName: string; bytes: Uint8Array },
  ): Promise<void> {
    const { settings, log, clock } = this.#o;
    const folder = this.#o.ackFolder!;
    const dir = folder.startsWith("/") ? folder : joinPath(settings.folder, folder);
    try {
      const path = await writeAcknowledgment(session, dir, ack.fileName, ack.bytes, clock.now());
      log.info("sftp.x12-acknowledged", { actor: this.#actor, file: name, ack: path });
    } catch (error) {
      log.error("sftp.x12-ack-failed", {
        actor: this.#actor,
        file: name,
        reason: errorMessage(error),
      });
      if (!session.open) throw error;
    }
  }

  /** Moves a file over the limit to the error folder; a refusal skips the file. */
  async #moveAside(pass: PollPass, name: string, size: number): Promise<void> {
    const { settings, log, maxFileBytes } = this.#o;
    let to: string;
    try {
      to = await this.#moveTo(pass, settings.errorFolder, name);
    } catch (error) {
      if (!fileLevel(error, pass.session)) throw error;
      throw new NotTakenError(
        `${size} bytes, over the limit of ${maxFileBytes}, and not moved to the error folder: ` +
          errorMessage(error),
      );
    }
    pass.summary.movedToError++;
    log.warn("sftp.file-too-large", {
      actor: this.#actor,
      file: joinPath(settings.folder, name),
      size,
      limit: maxFileBytes,
      movedTo: to,
    });
  }

  /** Moves `name` into `folder` (made if missing); a name already taken there gets a prefix. */
  async #moveTo(pass: PollPass, folder: string, name: string): Promise<string> {
    const { settings, clock } = this.#o;
    const { session, made } = pass;
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
}
