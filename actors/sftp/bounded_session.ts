/**
 * SFTP calls with deadlines, for the deliverer and the poller: a server that stops answering SFTP
 * while SSH stays alive (a hung disk behind it) fails the call at its deadline, with the session
 * closed, instead of holding an actor for good. See {@link sftpDeadlineMs} for the deadlines.
 * @module
 */

import type { Clock } from "../runtime/clock.ts";
import {
  type SftpEntry,
  type SftpListOptions,
  type SftpSession,
  type SftpSessionSource,
  type SftpStat,
  SftpStatusError,
} from "./connector.ts";

/** How long an SFTP request may go unanswered: 60 s (see {@link sftpDeadlineMs}). */
export const SFTP_REQUEST_TIMEOUT_MS = 60_000;

/** What a read or a write gets on top of the request timeout per whole MiB it moves: 10 s. */
export const SFTP_MS_PER_MIB = 10_000;

const MiB = 1024 * 1024;

/**
 * The deadline of one SFTP call of a deliverer or a poller: the request timeout (60 s by default)
 * for the connect, a stat, a rename, a remove or a mkdir, and for a list after each answer of the
 * server (a listing that keeps coming is never cut); for a read or a write of `bytes`,
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

  /**
   * See {@link SftpSession.list}: each answer of the server (reported through `onProgress` by
   * the session below) starts the deadline afresh.
   */
  list(folder: string, options: SftpListOptions = {}): Promise<SftpEntry[]> {
    return this.#bound(`list ${folder}`, 0, (answered) =>
      this.#session.list(folder, {
        ...options,
        onProgress: (listed) => {
          answered();
          options.onProgress?.(listed);
        },
      }));
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

  /**
   * Runs `run` (a call named `what` moving `bytes`) against its deadline; each call of the
   * `answered` it is given starts the deadline afresh.
   */
  #bound<T>(what: string, bytes: number, run: (answered: () => void) => Promise<T>): Promise<T> {
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
      // Quiet time on the monotonic clock: a wall-clock step neither stretches nor ends it.
      let answeredAt = clock.monotonic();
      const sleep = (wait: number) =>
        void clock.sleep(wait, timer.signal).then(() => {
          if (!this.#calls.has(call)) return;
          const quiet = clock.monotonic() - answeredAt;
          if (quiet < ms) return sleep(ms - quiet);
          call.fail(new SftpDeadlineError(what, ms));
          this.close();
        });
      sleep(ms);
      let running: Promise<T>;
      try {
        running = run(() => void (answeredAt = clock.monotonic()));
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
