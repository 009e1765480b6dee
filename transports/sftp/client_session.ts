/**
 * One SFTP session over an ssh2 connection, as the actors' {@link SftpSession}. Transfers are
 * pipelined: up to {@link DEPTH} read or write requests of {@link CHUNK} bytes are outstanding at
 * once, so throughput is bound by bandwidth, not by round trips (one request at a time makes a
 * 30 MB file cost ~1,000 round trips).
 *
 * No request waits for ever: a server that stops answering SFTP while SSH stays alive (a hung disk
 * or filesystem behind it; sshd still answers keepalives) would otherwise hold the caller, and a
 * delivery queue behind it, for good. While any request waits, the server must answer one of them
 * (any answer counts: a transfer that keeps moving is never cut, however long it takes) within
 * {@link REQUEST_TIMEOUT_MS}; when it does not, the session is closed and every request under way
 * fails with an {@link SftpDeadlineError}: `the SFTP server did not answer within 60 s (write
 * out/.x.hl7.part); session closed`. Closing the session for any reason (an actor's own deadline,
 * a skip, a stop) fails the requests under way at once, rather than when ssh2 notices the end.
 * @module
 */

import { Buffer } from "node:buffer";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import type { Clock, SftpEntry, SftpSession, SftpStat } from "../../actors/ports.ts";
import {
  FileTooLargeError,
  SftpDeadlineError,
  SftpStatusError,
  systemClock,
} from "../../actors/mod.ts";
import { attrsOf, isEof, statusError } from "./sftp_status.ts";

/** Bytes per read or write request. */
export const CHUNK = 64 * 1024;
/** Requests outstanding at once. */
export const DEPTH = 32;
/**
 * How long the server may leave every waiting request unanswered before the session is closed:
 * 60 s. Per request, not per file: each answer starts the wait afresh.
 */
export const REQUEST_TIMEOUT_MS = 60_000;

export { statusError };

/** Tuning of an {@link SshSftpSession}. */
export interface SshSftpSessionOptions {
  /** See {@link REQUEST_TIMEOUT_MS} (the default). */
  requestTimeoutMs?: number;
  /** Times the wait for answers; the system clock by default. */
  clock?: Clock;
}

/** A request waiting for its answer. */
interface Waiting {
  what: string;
  fail(error: Error): void;
}

/** See the module doc. */
export class SshSftpSession implements SftpSession {
  readonly #client: ssh2.Client;
  readonly #sftp: ssh2.SFTPWrapper;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #open = true;
  /** Requests sent and not answered yet. */
  readonly #waiting = new Set<Waiting>();
  /** When the server last answered (or, when nothing was waiting, when a wait began). */
  #answeredAt = 0;
  /** The watchdog's sleep while requests wait (one for the session, not one per request). */
  #watchdog: AbortController | undefined;
  /** Local address:port of the TCP connection. */
  readonly local?: string;

  /** Wraps a logged-in client and its SFTP channel; closing either ends the session. */
  constructor(
    client: ssh2.Client,
    sftp: ssh2.SFTPWrapper,
    local?: string,
    options: SshSftpSessionOptions = {},
  ) {
    this.#client = client;
    this.#sftp = sftp;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    if (local) this.local = local;
    const gone = () => {
      this.#open = false;
      // ssh2 fails its requests as the channel ends; any it missed fail here.
      this.#failWaiting((w) => new SftpStatusError(w.what, "connection-lost", "connection closed"));
    };
    client.on("close", gone);
    client.on("end", gone);
    sftp.on("close", gone);
  }

  /** False once the connection or the channel is gone. */
  get open(): boolean {
    return this.#open;
  }

  /** Ends the connection; the requests under way fail at once. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#failWaiting((w) => new SftpStatusError(w.what, "connection-lost", "session closed"));
    this.#client.end();
  }

  #call<T>(what: string, run: (cb: (err: Error | null | undefined, value: T) => void) => void) {
    if (!this.#open) {
      return Promise.reject(new SftpStatusError(what, "connection-lost", "session closed"));
    }
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = { what, fail: reject };
      if (this.#waiting.size === 0) this.#answeredAt = this.#clock.monotonic();
      this.#waiting.add(waiting);
      this.#watch(this.#timeoutMs);
      const answered = (err: unknown, value?: T) => {
        // Failed already (the session was closed or stalled): a late answer changes nothing.
        if (!this.#waiting.delete(waiting)) return;
        this.#answeredAt = this.#clock.monotonic();
        if (this.#waiting.size === 0) this.#unwatch();
        if (err) reject(statusError(what, err));
        else resolve(value as T);
      };
      try {
        run((err, value) => answered(err, value));
      } catch (error) {
        answered(error ?? new Error("failed"));
      }
    });
  }

  /**
   * Arms the watchdog, unless armed (it is while requests wait): it wakes after `ms`, then sleeps
   * on when the server answered meanwhile (until the timeout after that answer), or else closes
   * the stalled session.
   */
  #watch(ms: number): void {
    if (this.#watchdog) return;
    const armed = new AbortController();
    this.#watchdog = armed;
    void this.#clock.sleep(ms, armed.signal).then(() => {
      if (this.#watchdog !== armed) return; // disarmed meanwhile
      this.#watchdog = undefined;
      if (this.#waiting.size === 0) return;
      const timeout = this.#timeoutMs;
      const quiet = this.#clock.monotonic() - this.#answeredAt;
      if (quiet < timeout) return this.#watch(timeout - quiet);
      this.#failWaiting((w) => new SftpDeadlineError(w.what, timeout));
      this.close();
    });
  }

  #unwatch(): void {
    this.#watchdog?.abort();
    this.#watchdog = undefined;
  }

  /** Fails every request under way with `error(request)` and disarms the watchdog. */
  #failWaiting(error: (waiting: Waiting) => Error): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    this.#unwatch();
    for (const w of waiting) w.fail(error(w));
  }

  /**
   * See {@link SftpSession.list}: READDIR by READDIR, each a request of its own (each answer starts
   * the wait afresh: a listing that keeps coming is never cut), kept only as {@link SftpEntry}s;
   * names over `maxNameLength` are reported, not kept.
   */
  async list(
    folder: string,
    options: Parameters<SftpSession["list"]>[1] = {},
  ): Promise<SftpEntry[]> {
    const what = `list ${folder}`;
    const handle = await this.#call<Buffer>(what, (cb) => this.#sftp.opendir(folder, cb));
    const out: SftpEntry[] = [];
    try {
      while (out.length <= (options.maxEntries ?? Infinity)) {
        // The end comes as an EOF status; an empty answer (for ever, maybe) ends it too.
        const batch = await this.#call<ssh2.FileEntryWithStats[] | undefined>(
          what,
          (cb) => this.#sftp.readdir(handle, (err, list) => cb(isEof(err) ? null : err, list)),
        );
        if (!batch?.length) break;
        const maxName = options.maxNameLength ?? Infinity;
        for (const e of batch) {
          if (e.filename === "." || e.filename === "..") continue;
          if (e.filename.length > maxName) {
            // Kept, even as a slice, a string would pin the whole name: copy its start.
            options.onLongName?.(e.filename.length, [...e.filename.slice(0, 64)].join(""));
            continue;
          }
          out.push({ name: e.filename, ...attrsOf(e.attrs, e.longname) });
        }
        options.onProgress?.(out.length);
      }
    } finally {
      this.#closeHandle(handle);
    }
    return out;
  }

  /** See {@link SftpSession.stat}. */
  async stat(path: string): Promise<SftpStat | undefined> {
    try {
      return attrsOf(
        await this.#call<ssh2.Stats>(`stat ${path}`, (cb) => this.#sftp.stat(path, cb)),
      );
    } catch (error) {
      if (error instanceof SftpStatusError && error.kind === "no-such-file") return undefined;
      throw error;
    }
  }

  /** See {@link SftpSession.rename}. */
  async rename(from: string, to: string): Promise<void> {
    await this.#call<void>(`rename ${from} to ${to}`, (cb) => this.#sftp.rename(from, to, cb));
  }

  /** See {@link SftpSession.remove}. */
  async remove(path: string): Promise<void> {
    await this.#call<void>(`remove ${path}`, (cb) => this.#sftp.unlink(path, cb));
  }

  /** See {@link SftpSession.mkdir}. */
  async mkdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    const prefix = path.startsWith("/") ? "/" : "";
    const targets = options.recursive
      ? parts.map((_, i) => prefix + parts.slice(0, i + 1).join("/"))
      : [prefix + parts.join("/")];
    for (const dir of targets) {
      const there = await this.stat(dir);
      if (there?.isDirectory) continue;
      try {
        await this.#call<void>(`mkdir ${dir}`, (cb) => this.#sftp.mkdir(dir, cb));
      } catch (error) {
        // Made meanwhile by someone else: fine.
        if (!(await this.stat(dir))?.isDirectory) throw error;
      }
    }
  }

  /** See {@link SftpSession.read}: pipelined reads into one buffer of the file's size. */
  async read(
    path: string,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<Uint8Array> {
    const handle = await this.#call<Buffer>(`open ${path}`, (cb) => this.#sftp.open(path, "r", cb));
    try {
      const attrs = await this.#call<ssh2.Stats>(
        `stat ${path}`,
        (cb) => this.#sftp.fstat(handle, cb),
      );
      const size = Number(attrs.size ?? 0);
      if (size > options.maxBytes) throw new FileTooLargeError(path, size, options.maxBytes);
      let out = new Uint8Array(size);
      await this.#transfer(size, options.signal, async (offset, length) => {
        const n = await this.#readAt(path, handle, out, offset, length);
        if (n === 0) throw new SftpStatusError(`read ${path}`, "failure", "the file shrank");
        return n;
      });
      // The file may have grown since the stat. One more read says so: bytes past the size come
      // back with the rest (at most one chunk more), and the caller, seeing a content longer than
      // the file's size, takes it as still being written. Reading on to the end instead would
      // never end on a file that keeps growing (or a server that answers every offset): the read
      // would go on, copying ever more, until the limit or the deadline, and fail the whole poll.
      const more = new Uint8Array(CHUNK);
      const n = await this.#readAt(path, handle, more, 0, CHUNK, out.length);
      if (n > 0) {
        if (out.length + n > options.maxBytes) {
          throw new FileTooLargeError(path, out.length + n, options.maxBytes);
        }
        const grown = new Uint8Array(out.length + n);
        grown.set(out);
        grown.set(more.subarray(0, n), out.length);
        out = grown;
      }
      return out;
    } finally {
      this.#closeHandle(handle);
    }
  }

  /** See {@link SftpSession.write}: pipelined writes, then a flush where the server offers it. */
  async write(
    path: string,
    bytes: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const handle = await this.#call<Buffer>(`open ${path}`, (cb) => this.#sftp.open(path, "w", cb));
    let closed = false;
    try {
      const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      await this.#transfer(bytes.length, options.signal, async (offset, length) => {
        await this.#call<void>(
          `write ${path}`,
          (cb) =>
            this.#sftp.write(handle, data, offset, length, offset, (err) => cb(err, undefined)),
        );
        return length;
      });
      await this.#fsync(path, handle);
      closed = true;
      await this.#call<void>(`close ${path}`, (cb) => this.#sftp.close(handle, cb));
    } finally {
      if (!closed) this.#closeHandle(handle);
    }
  }

  /** Reads up to `length` bytes at file offset `at` (default `offset`) into `into[offset…]`. */
  #readAt(
    path: string,
    handle: Buffer,
    into: Uint8Array,
    offset: number,
    length: number,
    at = offset,
  ): Promise<number> {
    const buf = Buffer.from(into.buffer, into.byteOffset, into.byteLength);
    return this.#call<number>(
      `read ${path}`,
      (cb) => this.#sftp.read(handle, buf, offset, length, at, (err, n) => cb(err, n)),
    );
  }

  /**
   * Runs `op` over `[0, total)` in {@link CHUNK}s with {@link DEPTH} outstanding. `op` returns how
   * many bytes it did; a short answer queues the rest of its range.
   */
  #transfer(
    total: number,
    signal: AbortSignal | undefined,
    op: (offset: number, length: number) => Promise<number>,
  ): Promise<void> {
    if (total === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const pending: [number, number][] = [];
      let next = 0;
      let inFlight = 0;
      let done = 0;
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        reject(error);
      };
      const pump = () => {
        while (!failed && inFlight < DEPTH && (pending.length > 0 || next < total)) {
          if (signal?.aborted) return fail(new Error("aborted"));
          let range = pending.shift();
          if (!range) {
            range = [next, Math.min(CHUNK, total - next)];
            next += range[1];
          }
          const [offset, length] = range;
          inFlight++;
          op(offset, length).then((n) => {
            inFlight--;
            done += n;
            if (n < length) pending.push([offset + n, length - n]);
            if (done === total) resolve();
            else pump();
          }, (error) => {
            inFlight--;
            fail(error);
          });
        }
      };
      pump();
    });
  }

  async #fsync(path: string, handle: Buffer): Promise<void> {
    try {
      await this.#call<void>(`fsync ${path}`, (cb) => this.#sftp.ext_openssh_fsync(handle, cb));
    } catch (error) {
      // Servers without fsync@openssh.com: the close is all we can ask for.
      if (!/not support/i.test(String((error as Error).message))) throw error;
    }
  }

  #closeHandle(handle: Buffer): void {
    if (!this.#open) return;
    try {
      this.#sftp.close(handle, () => {});
    } catch {
      // The channel is going away; the server closes its handles with it.
    }
  }
}
