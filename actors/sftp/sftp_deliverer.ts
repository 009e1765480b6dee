/**
 * Delivering one message as a file over SFTP: write it under a temporary name of the attempt's
 * own (`.<name>.<attempt>.part`), then rename it to its final name, so the receiver never sees half
 * a file under the final name. The name comes from the destination's template and is stable across retries, so a
 * rename that succeeded but whose answer was lost is recognised on the next attempt: the final
 * name holds exactly this message's bytes (read back and compared). A final name that holds any
 * other file (a template without `{id}` gives several messages one name) is never taken for this
 * message: the attempt fails with a reason saying so, and the message waits at the head of its
 * queue until that file is taken away. The session stays open between messages and is closed
 * after an idle period; any other failure drops it and returns a reason, and the delivery actor
 * retries on its schedule.
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
import {
  FileTooLargeError,
  type SftpEntry,
  type SftpSession,
  type SftpSessionSource,
  type SftpStat,
  SftpStatusError,
} from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";
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

  /** A deliverer; throws when the file name template is unusable. */
  constructor(options: SftpDelivererOptions) {
    checkTemplate(options.fileName);
    this.#options = options;
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

  /** Closes a session that has carried nothing for the idle period. */
  idle(now: number): Promise<void> {
    this.#link.idle(now);
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
      this.#link.hold(session, clock.now());
      log.info("sftp.connected", { actor: actorId, local: session.local });
    }
    this.#link.touch(clock.now());
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
      await session.write(temporary, job.payload, { signal: job.signal });
      try {
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
      this.#link.touch(clock.now());
    }
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

/** How long an SFTP request may go unanswered: 60 s (see {@link sftpDeadlineMs}). */
export const SFTP_REQUEST_TIMEOUT_MS = 60_000;

/** What a read or a write gets on top of the request timeout per whole MiB it moves: 10 s. */
export const SFTP_MS_PER_MIB = 10_000;

const MiB = 1024 * 1024;

/**
 * The deadline of one SFTP call of a deliverer or a poller: the request timeout (60 s by default)
 * for the connect, a stat, a rename, a remove, a mkdir or a list; for a read or a write of `bytes`,
 * {@link SFTP_MS_PER_MIB} (10 s) more per whole MiB: 60 s for anything under 1 MiB, 360 s for
 * 30 MiB, so a transfer moving at 100 KiB/s or more always fits. The ssh2 session also bounds its
 * own requests (no answer to any of them for 60 s closes it), so a large transfer that stalls
 * fails within 60 s of the server's last answer; one that keeps moving is bounded only by this.
 */
export function sftpDeadlineMs(requestTimeoutMs: number, bytes = 0): number {
  return requestTimeoutMs + Math.floor(bytes / MiB) * SFTP_MS_PER_MIB;
}

/** How calls are timed. */
export interface SftpDeadlines {
  clock: Clock;
  /** See {@link sftpDeadlineMs}. */
  requestTimeoutMs: number;
}

/** A call that outlived its deadline: the session was closed. */
export class SftpDeadlineError extends SftpStatusError {
  /** `what` (e.g. `write out/.x.hl7.part`) got no answer within `ms`. */
  constructor(what: string, ms: number) {
    super(what, "connection-lost");
    this.name = "SftpDeadlineError";
    this.message = `the SFTP server did not answer within ${ms / 1000} s (${what}); session closed`;
  }
}

/** A call under way. */
interface Call {
  what: string;
  fail(error: Error): void;
}

/**
 * Opens a session from `sessions` within the request timeout (the login has its own timeout, but
 * starting SFTP on a server whose disk hangs may not end): past it the connect is aborted and the
 * promise rejects with `the SFTP server did not answer within 60 s (open session); connection
 * closed`. `signal` (a skip, a stop) aborts it at once.
 */
export function openWithin(
  sessions: SftpSessionSource,
  deadlines: SftpDeadlines,
  signal?: AbortSignal,
): Promise<BoundedSftpSession> {
  const ms = deadlines.requestTimeoutMs;
  const cut = new AbortController();
  const timer = new AbortController();
  let done = false;
  let onAbort = () => {};
  const end = () => {
    if (done) return false;
    done = true;
    timer.abort();
    signal?.removeEventListener("abort", onAbort);
    return true;
  };
  return new Promise((resolve, reject) => {
    const giveUp = (error: Error) => {
      if (!end()) return;
      cut.abort();
      reject(error);
    };
    void deadlines.clock.sleep(ms, timer.signal).then(() =>
      giveUp(
        new Error(
          `the SFTP server did not answer within ${ms / 1000} s (open session); connection closed`,
        ),
      )
    );
    // A skip or a stop ends the wait at once, whatever the source does with the signal.
    onAbort = () => giveUp(new Error("connect aborted"));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let opening: Promise<SftpSession>;
    try {
      opening = sessions.open(cut.signal);
    } catch (error) {
      opening = Promise.reject(error);
    }
    opening.then((session) => {
      if (end()) resolve(new BoundedSftpSession(session, deadlines));
      else session.close(); // too late: given up on already
    }, (error) => {
      if (end()) reject(error);
    });
  });
}

/**
 * A session whose every call must end by its deadline ({@link sftpDeadlineMs}, on the actor's
 * clock): past it the call fails with an {@link SftpDeadlineError} and the session is closed,
 * whatever the session below does with its own requests. Closing it (a deadline, a skip, a stop)
 * fails every call under way at once. One sleep per call, ended with the call.
 */
export class BoundedSftpSession implements SftpSession {
  readonly #session: SftpSession;
  readonly #deadlines: SftpDeadlines;
  readonly #calls = new Set<Call>();
  #closed = false;

  /** Bounds the calls to `session`. */
  constructor(session: SftpSession, deadlines: SftpDeadlines) {
    this.#session = session;
    this.#deadlines = deadlines;
  }

  /** False once closed, or once the session below is gone. */
  get open(): boolean {
    return !this.#closed && this.#session.open;
  }

  /** The session's local address. */
  get local(): string | undefined {
    return this.#session.local;
  }

  /** Closes the session; every call under way fails now. */
  close(): void {
    this.#closed = true;
    this.#session.close();
    for (const call of [...this.#calls]) {
      call.fail(new SftpStatusError(call.what, "connection-lost", "session closed"));
    }
  }

  /** See {@link SftpSession.list}. */
  list(folder: string): Promise<SftpEntry[]> {
    return this.#bound(`list ${folder}`, 0, () => this.#session.list(folder));
  }

  /**
   * See {@link SftpSession.read}; `expectedBytes` (the listed size) sets the deadline, else
   * `maxBytes` does.
   */
  read(
    path: string,
    options: { maxBytes: number; signal?: AbortSignal; expectedBytes?: number },
  ): Promise<Uint8Array> {
    const { expectedBytes, ...rest } = options;
    return this.#bound(
      `read ${path}`,
      expectedBytes ?? options.maxBytes,
      () => this.#session.read(path, rest),
    );
  }

  /** See {@link SftpSession.write}. */
  write(path: string, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<void> {
    return this.#bound(
      `write ${path}`,
      bytes.length,
      () => this.#session.write(path, bytes, options),
    );
  }

  /** See {@link SftpSession.rename}. */
  rename(from: string, to: string): Promise<void> {
    return this.#bound(`rename ${from} to ${to}`, 0, () => this.#session.rename(from, to));
  }

  /** See {@link SftpSession.remove}. */
  remove(path: string): Promise<void> {
    return this.#bound(`remove ${path}`, 0, () => this.#session.remove(path));
  }

  /** See {@link SftpSession.mkdir}. */
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    return this.#bound(`mkdir ${path}`, 0, () => this.#session.mkdir(path, options));
  }

  /** See {@link SftpSession.stat}. */
  stat(path: string): Promise<SftpStat | undefined> {
    return this.#bound(`stat ${path}`, 0, () => this.#session.stat(path));
  }

  /** Runs `run` (a call named `what` moving `bytes`) against its deadline. */
  #bound<T>(what: string, bytes: number, run: () => Promise<T>): Promise<T> {
    if (!this.open) {
      return Promise.reject(new SftpStatusError(what, "connection-lost", "session closed"));
    }
    const { clock, requestTimeoutMs } = this.#deadlines;
    const ms = sftpDeadlineMs(requestTimeoutMs, bytes);
    return new Promise<T>((resolve, reject) => {
      const timer = new AbortController();
      const end = () => {
        if (!this.#calls.delete(call)) return false;
        timer.abort();
        return true;
      };
      const call: Call = {
        what,
        fail: (error) => {
          if (end()) reject(error);
        },
      };
      this.#calls.add(call);
      void clock.sleep(ms, timer.signal).then(() => {
        if (!this.#calls.has(call)) return;
        call.fail(new SftpDeadlineError(what, ms));
        this.close();
      });
      let running: Promise<T>;
      try {
        running = run();
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then((value) => {
        if (end()) resolve(value);
      }, (error) => {
        if (end()) reject(error);
      });
    });
  }
}
