/**
 * The SFTP requests of one logged-in hosted user, served from its folder (its `/`):
 *
 * - uploads go anywhere but `outbox/` and `archive/`; each is written to a hidden staging file
 *   and becomes visible under its name only when the client closes it, at which point it is
 *   taken in (stored by the engine, then archived) before the close is answered; a held-back
 *   name (`x.filepart`, `.x.part`…) is taken in when the client renames it to its final name;
 * - an upload cut off (connection lost before the close) is discarded: nothing half-ingested,
 *   and so is one a write failed for (disk full…): its close says so;
 * - open files and folders count against per-user and server-wide caps (`handle_limits.ts`);
 *   folders are listed page by page (`folder_listing.ts`);
 * - `outbox/` offers the files the engine delivered to this user: readable and removable only;
 * - `archive/` shows what was taken in: readable only;
 * - symbolic links are never followed and nothing outside the folder can be named.
 *
 * Every file-system call is asynchronous, so a slow disk or a large read holds only the requests
 * waiting on it, never the engine's thread (its other connections, listeners and actors). A
 * session serves its requests one at a time in the order they came, as the synchronous server did:
 * pipelined WRITEs at any offsets then a CLOSE are answered in that order, the CLOSE after the
 * writes are on disk, and a request sees what every earlier one did. Only the slow tails that
 * never held the session before go on beside later requests: taking an upload in (at its CLOSE or
 * the RENAME of a held-back name) and reading a folder for OPENDIR. A session that has
 * {@link MAX_QUEUED} requests or {@link MAX_QUEUED_BYTES} of writes waiting asks its connection to
 * stop reading (`onBacklog`) until half of them are served, so a fast client on a slow disk
 * cannot fill the engine's memory.
 * @module
 */

import { Buffer } from "node:buffer";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Logger } from "../../actors/ports.ts";
import { attrsOf, Refusal, replyFor } from "./folder_replies.ts";
import { FolderListing } from "./folder_listing.ts";
import { type Interrupted, logInterrupted, SessionLog } from "./folder_log.ts";
import { FolderPaths } from "./folder_paths.ts";
import type { HandleLease, HandleLimits } from "./handle_limits.ts";
import type { FolderJail } from "./jail.ts";
import type { HostedUser } from "./server_users.ts";
import { UploadHandle } from "./upload_handle.ts";
import { type UploadDesk, UploadNotTaken } from "./uploads.ts";

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;

/** Largest READ answered (clients ask 32–256 KiB). */
const MAX_READ = 256 * 1024;
/** Open handles per session. */
const MAX_HANDLES = 64;
/** Requests a session may have waiting before its connection stops reading. */
export const MAX_QUEUED = 256;
/** Bytes of WRITEs a session may have waiting before its connection stops reading: 8 MiB. */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** Rounds {@link FolderSftpSession.settled} waits at most (an ended session adds no work). */
const SETTLE_ROUNDS = 100;

type Handle =
  & (
    /** `position`: the file's offset, NaN when unknown (a sequential READ skips the seek). */
    | { kind: "read"; file: Deno.FsFile; position: number }
    | { kind: "write"; upload: UploadHandle }
    | { kind: "dir"; listing: FolderListing }
  )
  & { lease: HandleLease };

/** What a session serves from. */
export interface FolderSftpOptions {
  sftp: ssh2.SFTPWrapper;
  user: HostedUser;
  jail: FolderJail;
  desk: UploadDesk;
  /** Caps on open files and folders, shared by every session of the server. */
  limits: HandleLimits;
  peer: string;
  maxFileBytes: number;
  log: Logger;
  /** Called on every request (the connection's idle clock). */
  onRequest?(): void;
  /** Gets the uploads cut off when the session ends; logged by the session when absent. */
  onInterrupted?(uploads: Interrupted[]): void;
  /**
   * Told `true` when the session's waiting requests reach {@link MAX_QUEUED} or
   * {@link MAX_QUEUED_BYTES} (stop reading from the client), `false` once half are served.
   */
  onBacklog?(full: boolean): void;
}

/** See the module doc. */
export class FolderSftpSession {
  readonly #options: FolderSftpOptions;
  readonly #paths: FolderPaths;
  readonly #log: SessionLog;
  readonly #handles = new Map<number, Handle>();
  #nextHandle = 1;
  /** OPENDIRs reading their folder. */
  #opening = 0;
  #ended = false;
  /** The end of the last request queued: requests are served one at a time, in order. */
  #lane: Promise<void> = Promise.resolve();
  /** Requests queued and not yet served, and the bytes their WRITEs carry. */
  #queued = 0;
  #queuedBytes = 0;
  #full = false;
  /** Take-ins and folder reads under way beside the lane. */
  readonly #tails = new Set<Promise<void>>();
  #markEnded!: () => void;
  /** Resolves when the session ends (the channel or connection closed). */
  readonly ended: Promise<void> = new Promise((resolve) => (this.#markEnded = resolve));

  /** Serves `options.sftp` until the channel closes. */
  constructor(options: FolderSftpOptions) {
    this.#options = options;
    this.#paths = new FolderPaths(options);
    this.#log = new SessionLog(options.log, options.user.name, options.peer);
    const s = options.sftp;
    s.on("REALPATH", (id, path) => this.#run(id, "realpath", path, () => this.#realpath(id, path)));
    s.on("STAT", (id, path) => this.#run(id, "stat", path, () => this.#stat(id, path)));
    s.on("LSTAT", (id, path) => this.#run(id, "lstat", path, () => this.#stat(id, path)));
    s.on("FSTAT", (id, h) => this.#run(id, "fstat", "", () => this.#fstat(id, h)));
    s.on("OPENDIR", (id, path) => this.#run(id, "opendir", path, () => this.#opendir(id, path)));
    s.on("READDIR", (id, h) => this.#run(id, "readdir", "", () => this.#readdir(id, h)));
    s.on(
      "OPEN",
      (id, path, flags) => this.#run(id, "open", path, () => this.#open(id, path, flags)),
    );
    s.on(
      "READ",
      (id, h, offset, len) => this.#run(id, "read", "", () => this.#read(id, h, offset, len)),
    );
    s.on(
      "WRITE",
      (id, h, offset, data) =>
        this.#run(id, "write", "", () => this.#write(id, h, offset, data), data.length),
    );
    s.on("CLOSE", (id, h) => this.#run(id, "close", "", () => this.#close(id, h)));
    // Requests that name a path and hold nothing open: answered OK once done.
    const done =
      (op: string, step: (path: string, to: string) => Promise<unknown>) =>
      (id: number, path: string, to?: unknown) =>
        this.#run(id, op, path, async () => {
          await step(path, typeof to === "string" ? to : "");
          this.#status(id, STATUS_CODE.OK);
        });
    s.on("REMOVE", done("remove", (path) => this.#paths.remove(path)));
    s.on(
      "RENAME",
      (id, from, to) => this.#run(id, "rename", from, () => this.#rename(id, from, to)),
    );
    s.on("MKDIR", done("mkdir", (path) => this.#paths.mkdir(path)));
    s.on("RMDIR", done("rmdir", (path) => this.#paths.rmdir(path)));
    // Times and modes are the server's business; accepted and ignored so `put -p` works.
    s.on("SETSTAT", done("setstat", (path) => this.#paths.stat(path)));
    s.on("FSETSTAT", (id, h) => this.#run(id, "fsetstat", "", () => this.#fsetstat(id, h)));
    const noLinks = (id: number, path: string) =>
      this.#run(id, "link", path, () => {
        throw new Refusal(STATUS_CODE.PERMISSION_DENIED, "symbolic links are not allowed");
      });
    s.on("READLINK", noLinks);
    s.on("SYMLINK", noLinks);
    // The client sent EOF: it may still read the answers to what it sent before, so those are
    // served first. The channel closed (or the connection): nobody is there to answer.
    s.on("end", () => (this.#lane = this.#lane.then(() => this.end())));
    s.on("close", () => this.end());
  }

  /**
   * Queues a request: its handler runs once every earlier request of the session is served, and
   * any error it throws is answered with a status. Requests queued after the session ended are
   * dropped (nobody is there to answer).
   */
  #run(
    id: number,
    op: string,
    path: string,
    handler: () => void | Promise<void>,
    bytes = 0,
  ): void {
    this.#options.onRequest?.();
    this.#queued++;
    this.#queuedBytes += bytes;
    this.#backlog();
    this.#lane = this.#lane.then(async () => {
      try {
        if (!this.#ended) await handler();
      } catch (error) {
        this.#fail(id, op, path, error);
      } finally {
        this.#queued--;
        this.#queuedBytes -= bytes;
        this.#backlog();
      }
    });
  }

  /** Tells the connection to stop or go on reading when the backlog crosses its marks. */
  #backlog(): void {
    if (this.#ended) return; // end() said so already; its connection may go on with others
    const full = this.#full
      ? this.#queued > MAX_QUEUED / 2 || this.#queuedBytes > MAX_QUEUED_BYTES / 2
      : this.#queued >= MAX_QUEUED || this.#queuedBytes >= MAX_QUEUED_BYTES;
    if (full === this.#full) return;
    this.#full = full;
    this.#options.onBacklog?.(full);
  }

  /** Lets `work` (a request's slow tail) go on beside the lane; its error is answered. */
  #beside(id: number, op: string, path: string, work: Promise<void>): void {
    const tail: Promise<void> = work
      .catch((error) => this.#fail(id, op, path, error))
      .finally(() => this.#tails.delete(tail));
    this.#tails.add(tail);
  }

  #fail(id: number, op: string, path: string, error: unknown): void {
    const { code, message, unexpected } = replyFor(error);
    if (unexpected) this.#log.failed(op, path, unexpected);
    if (code === STATUS_CODE.PERMISSION_DENIED) this.#log.denied(op, path, message);
    this.#status(id, code, message);
  }

  #status(id: number, code: number, message?: string): void {
    try {
      this.#options.sftp.status(id, code, message);
    } catch {
      // The channel closed meanwhile.
    }
  }

  #handleOf(raw: Buffer): [number, Handle] {
    const n = raw.length === 4 ? raw.readUInt32BE(0) : -1;
    const handle = this.#handles.get(n);
    if (!handle) throw new Refusal(STATUS_CODE.FAILURE, "invalid handle");
    return [n, handle];
  }

  /** Refuses when the session holds {@link MAX_HANDLES} handles. */
  #roomForOne(): void {
    if (this.#handles.size + this.#opening >= MAX_HANDLES) {
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `too many open handles (limit ${MAX_HANDLES} per session)`,
      );
    }
  }

  /** Counts one more open handle against the user's and the server's caps. */
  #lease(): HandleLease {
    return this.#options.limits.take(this.#options.user.name, this.#options.peer);
  }

  #newHandle(id: number, handle: Handle): void {
    const n = this.#nextHandle++;
    this.#handles.set(n, handle);
    const raw = Buffer.alloc(4);
    raw.writeUInt32BE(n, 0);
    this.#options.sftp.handle(id, raw);
  }

  #realpath(id: number, path: string): void {
    const virtual = this.#options.jail.resolve(path).virtual;
    this.#options.sftp.name(id, [{
      filename: virtual,
      longname: virtual,
      attrs: {} as ssh2.Attributes,
    }]);
  }

  async #stat(id: number, path: string): Promise<void> {
    this.#options.sftp.attrs(id, attrsOf(await this.#paths.stat(path)));
  }

  async #fstat(id: number, raw: Buffer): Promise<void> {
    const [, h] = this.#handleOf(raw);
    if (h.kind === "dir") throw new Refusal(STATUS_CODE.FAILURE, "not a file handle");
    const info = h.kind === "write" ? await h.upload.stat() : await h.file.stat();
    this.#options.sftp.attrs(id, attrsOf(info));
  }

  /** Checks the folder in the lane; reads its names beside it. */
  async #opendir(id: number, path: string): Promise<void> {
    const p = await this.#paths.resolve(path);
    if (!(await Deno.stat(p.real)).isDirectory) {
      throw new Refusal(STATUS_CODE.FAILURE, "not a folder");
    }
    this.#roomForOne();
    const { limits, user, peer } = this.#options;
    const lease = limits.take(user.name, peer, p.real);
    this.#opening++;
    const read = async () => {
      try {
        const listing = await FolderListing.read(
          p.real,
          (e) => !e.isSymlink && !this.#paths.hidden(p.segments, e.name),
        );
        lease.list(listing.size, p.real);
        if (this.#ended) return lease.release();
        this.#newHandle(id, { kind: "dir", listing, lease });
      } catch (error) {
        lease.release();
        throw error;
      } finally {
        this.#opening--;
      }
    };
    this.#beside(id, "opendir", path, read());
  }

  async #readdir(id: number, raw: Buffer): Promise<void> {
    const [, h] = this.#handleOf(raw);
    if (h.kind !== "dir") throw new Refusal(STATUS_CODE.FAILURE, "not a folder handle");
    const entries = await h.listing.next(this.#options.user.name);
    if (!entries) return this.#status(id, STATUS_CODE.EOF);
    try {
      this.#options.sftp.name(id, entries);
    } catch {
      // The channel closed meanwhile.
    }
  }

  async #open(id: number, path: string, flags: number): Promise<void> {
    this.#roomForOne();
    const p = await this.#paths.resolve(path);
    const writing = (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT)) !== 0;
    if (!writing) {
      if (!(await Deno.stat(p.real)).isFile) throw new Refusal(STATUS_CODE.FAILURE, "not a file");
      const lease = this.#lease();
      try {
        const file = await Deno.open(p.real, { read: true });
        return this.#newHandle(id, { kind: "read", file, position: 0, lease });
      } catch (error) {
        lease.release();
        throw error;
      }
    }
    this.#paths.mustBeUploadSpace(p, "writing");
    let existing: Deno.FileInfo | undefined;
    try {
      existing = await Deno.stat(p.real);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (existing?.isDirectory) throw new Refusal(STATUS_CODE.FAILURE, "that is a folder");
    if (existing && (flags & OPEN_MODE.EXCL)) {
      throw new Refusal(STATUS_CODE.FAILURE, "already exists");
    }
    if (existing && !(flags & OPEN_MODE.TRUNC)) {
      throw new Refusal(
        STATUS_CODE.OP_UNSUPPORTED,
        "appending to or resuming an upload is not supported; upload the whole file again",
      );
    }
    const lease = this.#lease();
    try {
      const upload = await UploadHandle.open(this.#options.desk, p, this.#options.maxFileBytes);
      this.#newHandle(id, { kind: "write", upload, lease });
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  async #read(id: number, raw: Buffer, offset: number, length: number): Promise<void> {
    const [, h] = this.#handleOf(raw);
    if (h.kind !== "read") throw new Refusal(STATUS_CODE.FAILURE, "not opened for reading");
    const buf = Buffer.allocUnsafe(Math.min(length, MAX_READ));
    let n = 0;
    try {
      if (h.position !== offset) {
        h.position = NaN;
        await h.file.seek(offset, Deno.SeekMode.Start);
        h.position = offset;
      }
      while (n < buf.length) {
        const got = await h.file.read(buf.subarray(n));
        if (got === null || got === 0) break;
        n += got;
        h.position += got;
      }
    } catch (error) {
      h.position = NaN;
      throw error;
    }
    if (n === 0) return this.#status(id, STATUS_CODE.EOF);
    this.#options.sftp.data(id, n === buf.length ? buf : buf.subarray(0, n));
  }

  async #write(id: number, raw: Buffer, offset: number, data: Buffer): Promise<void> {
    const [, h] = this.#handleOf(raw);
    if (h.kind !== "write") throw new Refusal(STATUS_CODE.FAILURE, "not opened for writing");
    await h.upload.write(offset, data);
    this.#status(id, STATUS_CODE.OK);
  }

  /** Closes in the lane (after every earlier write); takes a complete upload in beside it. */
  async #close(id: number, raw: Buffer): Promise<void> {
    const [n, h] = this.#handleOf(raw);
    this.#handles.delete(n);
    if (h.kind === "dir") {
      h.lease.release();
      return this.#status(id, STATUS_CODE.OK);
    }
    if (h.kind === "read") {
      h.file.close();
      h.lease.release();
      return this.#status(id, STATUS_CODE.OK);
    }
    const { desk, user, peer, log } = this.#options;
    const upload = h.upload;
    upload.closeFile();
    h.lease.release();
    const spoiled = upload.spoiled();
    if (spoiled) {
      await upload.discard(desk);
      const level = spoiled.event === "sftp-server.upload-too-large" ? "warn" : "error";
      log[level](spoiled.event, { user: user.name, peer, ...spoiled.fields });
      throw spoiled.refusal;
    }
    this.#beside(id, "close", "", this.#complete(id, upload));
  }

  /** Complete: it takes its name and is taken in, one upload of a name at a time. */
  async #complete(id: number, upload: UploadHandle): Promise<void> {
    const { desk, user, jail, peer } = this.#options;
    try {
      await desk.complete({
        user,
        jail,
        path: upload.path,
        peer,
        from: upload.staging,
        staged: true,
      });
    } catch (error) {
      if (error instanceof UploadNotTaken) throw new Refusal(STATUS_CODE.FAILURE, error.message);
      await upload.discard(desk);
      throw error;
    }
    this.#status(id, STATUS_CODE.OK);
  }

  /** Renames in the lane; a held-back upload renamed to its final name is taken in beside it. */
  async #rename(id: number, from: string, to: string): Promise<void> {
    const takeIn = await this.#paths.rename(from, typeof to === "string" ? to : "");
    if (!takeIn) return this.#status(id, STATUS_CODE.OK);
    this.#beside(
      id,
      "rename",
      from,
      takeIn().then(() => this.#status(id, STATUS_CODE.OK)),
    );
  }

  #fsetstat(id: number, raw: Buffer): void {
    this.#handleOf(raw);
    this.#status(id, STATUS_CODE.OK);
  }

  /** Handles open now. */
  get openHandles(): number {
    return this.#handles.size;
  }

  /**
   * Resolves once the session has ended and the request it was serving is done and its uploads
   * cut off are discarded (take-ins under way may go on: see {@link settled}).
   */
  async drained(): Promise<void> {
    await this.ended;
    for (let round = 0; round < SETTLE_ROUNDS; round++) {
      const lane = this.#lane;
      await lane;
      if (lane === this.#lane) return;
    }
  }

  /**
   * Resolves once the session has ended and everything it started is done: the requests queued,
   * the uploads it discards, the take-ins under way.
   */
  async settled(): Promise<void> {
    await this.ended;
    for (let round = 0; round < SETTLE_ROUNDS; round++) {
      const lane = this.#lane;
      const tails = [...this.#tails];
      await lane;
      await Promise.all(tails);
      if (lane === this.#lane && this.#tails.size === 0) return;
    }
  }

  /**
   * The channel or connection ended: uploads the client did not close are discarded, never taken
   * in, and reported together (idempotent). The request being served finishes first; the ones
   * still queued are dropped (their answers could not be sent): an upload whose CLOSE was among
   * them is discarded too, and the client, which never heard back, sends it again.
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const interrupted: Interrupted[] = [];
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    for (const h of handles) {
      h.lease.release();
      if (h.kind === "write") {
        interrupted.push({ file: h.upload.path.virtual, received: h.upload.size });
      }
    }
    const { onInterrupted, log, user, peer, desk } = this.#options;
    if (interrupted.length > 0) {
      if (onInterrupted) onInterrupted(interrupted);
      else logInterrupted(log, user.name, peer, interrupted);
    }
    this.#log.end();
    // After the request being served, whatever it opened meanwhile included.
    this.#lane = this.#lane.then(async () => {
      for (const h of [...handles, ...this.#handles.values()]) {
        if (h.kind === "read") {
          try {
            h.file.close();
          } catch {
            // already closed
          }
        } else if (h.kind === "write") await h.upload.discard(desk);
      }
      for (const h of this.#handles.values()) h.lease.release();
      this.#handles.clear();
    });
    if (this.#full) {
      this.#full = false;
      this.#options.onBacklog?.(false);
    }
    this.#markEnded();
    // The client sent EOF (or went away): close our side of the channel too.
    try {
      this.#options.sftp.end();
    } catch {
      // closed already
    }
  }
}
