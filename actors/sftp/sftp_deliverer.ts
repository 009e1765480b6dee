/**
 * Delivering one message as a file over SFTP: write it under a temporary name of the attempt's
 * own (`.<name>.<attempt>.part`), then rename it to its final name, so the receiver never sees half
 * a file under the final name. The name comes from the destination's template and is stable across
 * retries, so a rename that succeeded but whose answer was lost is recognised on the next attempt:
 * the final name holds exactly this message's bytes (read back and compared). A final name that
 * holds any other file (a template without `{id}` gives several messages one name) is never taken
 * for this message: the attempt fails with a reason saying so, and the message waits at the head
 * of its queue until that file is taken away. With such a template the final name is looked at
 * before the upload, so that a message waiting for its name is not uploaded again at each retry,
 * and before the rename too (the name can be taken in between), since some servers' RENAME
 * replaces an existing file instead of failing. The session stays open between messages and is
 * closed after an idle period; any other failure drops it and returns a reason, and the delivery
 * actor retries on its schedule.
 *
 * Every request has a deadline ({@link BoundedSftpSession}): a server that stops answering SFTP
 * while SSH stays alive (a hung disk behind it) fails the attempt at the deadline, with the
 * session closed, instead of holding the queue "sending" for good: `writing out/x.hl7 failed: the
 * SFTP server did not answer within 60 s (write out/.x.hl7.mb4x2k1.part); session closed`.
 * @module
 */

import { HeldLink } from "../delivery/held_link.ts";
import type { Deliverer, DeliveryJob, DeliveryOutcome } from "../delivery/deliverer.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { MessageRecord } from "../store/types.ts";
import { FileTooLargeError, type SftpSessionSource, type SftpStat } from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";
import {
  type BoundedSftpSession,
  openWithin,
  SFTP_REQUEST_TIMEOUT_MS,
  type SftpDeadlines,
} from "./bounded_session.ts";
import {
  baseName,
  checkTemplate,
  extensionFor,
  joinPath,
  renderFileName,
  temporaryNameFor,
} from "../../codecs/files/mod.ts";

/** What an {@link SftpDeliverer} is made of. */
export interface SftpDelivererOptions {
  actorId: string;
  /** Where sessions come from: a remote server, or a hosted user's outbox. */
  sessions: SftpSessionSource;
  /** The folder files are written into (relative to the login folder, or absolute). */
  folder: string;
  /** File name template, e.g. `{ts}-{id}.{ext}`; checked at construction. */
  fileName: string;
  clock: Clock;
  log: Logger;
  /** Close the session after this long without a delivery, default 5 min. */
  idleCloseMs?: number;
  /**
   * A request (the connect, a write, a rename…) not answered within this closes the session and
   * fails the attempt; default {@link SFTP_REQUEST_TIMEOUT_MS} (see {@link sftpDeadlineMs}).
   */
  requestTimeoutMs?: number;
}

/** See the module doc. */
export class SftpDeliverer implements Deliverer {
  /** Attempts made, which (with the time) name their temporary files apart. */
  #attempts = 0;
  /** The temporary file of a failed attempt whose session had died, removed at the next one. */
  #leftover: string | undefined;
  readonly #options: SftpDelivererOptions;
  readonly #link: HeldLink<BoundedSftpSession>;
  readonly #deadlines: SftpDeadlines;
  #lastFile: string | undefined;
  /**
   * Whether two messages can get one final name (a template without `{id}`): only then can a
   * file already under the name be another message's.
   */
  readonly #shared: boolean;

  /** A deliverer; throws when the file name template is unusable. */
  constructor(options: SftpDelivererOptions) {
    checkTemplate(options.fileName);
    this.#options = options;
    this.#shared = !options.fileName.includes("{id}");
    this.#deadlines = {
      clock: options.clock,
      requestTimeoutMs: options.requestTimeoutMs ?? SFTP_REQUEST_TIMEOUT_MS,
    };
    this.#link = new HeldLink({
      actorId: options.actorId,
      idleCloseMs: options.idleCloseMs ?? 5 * 60_000,
      idleEvent: "sftp.idle-close",
      log: options.log,
    });
  }

  /** The final file name of a message (also used by tests and the admin endpoint). */
  fileNameFor(record: MessageRecord): string {
    return renderFileName(this.#options.fileName, {
      id: record.id,
      receivedAt: record.receivedAt,
      ext: extensionFor(record.contentType, record.fileName),
      name: record.fileName ? baseName(record.fileName) : record.id,
    });
  }

  /** True while a session is open. */
  holdsConnection(): boolean {
    return this.#link.current !== undefined;
  }

  /** Where it delivers, with which key, and the last file written. */
  detail(): Record<string, unknown> {
    return {
      ...this.#options.sessions.describe(),
      folder: this.#options.folder,
      fileName: this.#options.fileName,
      ...this.#link.detail(),
      ...(this.#lastFile ? { lastFile: this.#lastFile } : {}),
    };
  }

  /** When the idle session is closed, if one is open (see {@link Deliverer.idleCloseAt}). */
  idleCloseAt(): number | undefined {
    return this.#link.closesAt();
  }

  /** Closes a session that has carried nothing for the idle period (`mono`: monotonic now). */
  idle(mono: number): Promise<void> {
    this.#link.idle(mono);
    return Promise.resolve();
  }

  /** Closes the session. */
  close(): Promise<void> {
    this.#link.drop();
    return Promise.resolve();
  }

  /** One attempt: connect if needed, write the temporary file, rename it. */
  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const { clock, log, actorId } = this.#options;
    const name = this.fileNameFor(job.record);
    const final = this.#path(name);
    // A name of this attempt's own: a server that stalled and recovers may still carry out an
    // abandoned session's requests (truncating, renaming its temporary file) after a retry began.
    const attempt = `${clock.now().toString(36)}${(++this.#attempts).toString(36)}`;
    const temporary = this.#path(temporaryNameFor(name, attempt));
    let session = this.#link.current;
    if (!session) {
      job.setState("connecting");
      try {
        session = await openWithin(this.#options.sessions, this.#deadlines, job.signal);
      } catch (error) {
        return { ok: false, reason: `connect failed: ${errorMessage(error)}` };
      }
      this.#link.hold(session, clock.now(), clock.monotonic());
      log.info("sftp.connected", { actor: actorId, local: session.local });
    }
    this.#link.touch(clock.monotonic());
    job.setState("sending");
    const leftover = this.#leftover;
    if (leftover !== undefined) {
      // A failed attempt's temporary file, left when its session had died: gone, best effort.
      this.#leftover = undefined;
      await session.remove(leftover).catch(() => {});
    }
    // Aborting (engine stop, operator skip) ends the session, which fails the request under way;
    // a request past its deadline does the same, with the deadline in its error.
    const onAbort = () => this.#link.drop();
    job.signal.addEventListener("abort", onAbort, { once: true });
    try {
      // A name several messages can share, taken already: settled without uploading the payload
      // (a message waiting for its name would otherwise upload it whole at every retry).
      const settled = this.#shared ? await this.#settledAhead(session, final, job) : undefined;
      if (settled) return settled;
      await session.write(temporary, job.payload, { signal: job.signal });
      try {
        // A name several messages can share: look before the rename, for servers whose RENAME
        // replaces an existing file (S3- or Azure-backed gateways, some Windows servers) would
        // otherwise put this message over another one the receiver has not fetched yet.
        if (this.#shared && (await session.stat(final))?.isFile) {
          throw new Error(`${final} is taken`);
        }
        await session.rename(temporary, final);
      } catch (error) {
        // The final name is taken: by this very message (a rename whose answer was lost, or a retry
        // after one), or by another file of that name, which this message must not stand for.
        const there = await session.stat(final).catch(() => undefined);
        if (!there?.isFile) throw error;
        const taken = await this.#heldBy(session, final, there.size, job);
        await session.remove(temporary).catch(() => {});
        if (taken === "this message") {
          return this.#done(final, job.payload.length, "already in place");
        }
        return { ok: false, reason: this.#takenReason(final, taken) };
      }
      return this.#done(final, job.payload.length);
    } catch (error) {
      const reason = job.signal.aborted ? "aborted" : errorMessage(error);
      // Leave nothing half-written behind: now when the session still works, else at the next
      // attempt's (the temporary name is never taken for a final file anyway).
      if (session.open) await session.remove(temporary).catch(() => {});
      else this.#leftover = temporary;
      this.#link.drop();
      return { ok: false, reason: `writing ${final} failed: ${reason}` };
    } finally {
      job.signal.removeEventListener("abort", onAbort);
      this.#link.touch(clock.monotonic());
    }
  }

  /**
   * Before the upload, with a name several messages can share: the outcome when `final` already
   * holds a file ("already in place" when it holds this message's bytes, else the message waits),
   * else undefined and the upload goes on. A look refused (or failing otherwise) while the session
   * stays open goes on too: the checks at the rename still decide, as without this look.
   */
  async #settledAhead(
    session: BoundedSftpSession,
    final: string,
    job: DeliveryJob,
  ): Promise<DeliveryOutcome | undefined> {
    let there: SftpStat | undefined;
    try {
      there = await session.stat(final);
    } catch (error) {
      if (!session.open) throw error;
      return undefined;
    }
    if (!there?.isFile) return undefined;
    const taken = await this.#heldBy(session, final, there.size, job);
    if (taken === "this message") return this.#done(final, job.payload.length, "already in place");
    return { ok: false, reason: this.#takenReason(final, taken) };
  }

  /**
   * Whether the file at `final` (of `size` bytes) holds exactly this message's bytes, else its
   * size. A failed read (other than the file being larger than the payload) throws.
   */
  async #heldBy(
    session: BoundedSftpSession,
    final: string,
    size: number,
    job: DeliveryJob,
  ): Promise<"this message" | number> {
    const payload = job.payload;
    if (size !== payload.length) return size;
    let bytes: Uint8Array;
    try {
      bytes = await session.read(final, { maxBytes: payload.length, signal: job.signal });
    } catch (error) {
      // It grew between the look and the read: another file (or one still being written).
      if (error instanceof FileTooLargeError) return error.size;
      throw error;
    }
    if (bytes.length !== payload.length) return bytes.length;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== payload[i]) return size;
    return "this message";
  }

  /** Why a message waits while `final` holds another file of `size` bytes. */
  #takenReason(final: string, size: number): string {
    const { fileName, actorId, log } = this.#options;
    log.warn("sftp.name-taken", { actor: actorId, file: final, size });
    const reason = `${final} already holds another file (${size} bytes, not this message's); ` +
      `this message waits until that file is taken away`;
    if (fileName.includes("{id}")) return reason;
    return `${reason}. The fileName template ${JSON.stringify(fileName)} gives more than one ` +
      `message this name: add {id} to make each name unique`;
  }

  #done(final: string, size: number, note?: string): DeliveryOutcome {
    this.#lastFile = final;
    this.#options.log.debug("sftp.delivered", {
      actor: this.#options.actorId,
      file: final,
      size,
      note,
    });
    return { ok: true, detail: `${final} (${size} bytes)${note ? `, ${note}` : ""}` };
  }

  #path(name: string): string {
    return joinPath(this.#options.folder, name);
  }
}
