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

type Handle =
  | { kind: "read"; file: Deno.FsFile; lease: HandleLease }
  | { kind: "write"; upload: UploadHandle; lease: HandleLease }
  | { kind: "dir"; listing: FolderListing; lease: HandleLease };

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
      (id, h, offset, data) => this.#run(id, "write", "", () => this.#write(id, h, offset, data)),
    );
    s.on("CLOSE", (id, h) => this.#run(id, "close", "", () => this.#close(id, h)));
    // Requests that name a path and hold nothing open: answered OK once done.
    const done =
      (op: string, step: (path: string, to: string) => unknown) =>
      (id: number, path: string, to?: unknown) =>
        this.#run(id, op, path, async () => {
          await step(path, typeof to === "string" ? to : "");
          this.#status(id, STATUS_CODE.OK);
        });
    s.on("REMOVE", done("remove", (path) => this.#paths.remove(path)));
    s.on("RENAME", done("rename", (from, to) => this.#paths.rename(from, to)));
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
    const end = () => this.end();
    s.on("close", end);
    s.on("end", end);
  }

  /** Runs a request handler, answering any error it throws with a status. */
  #run(id: number, op: string, path: string, handler: () => void | Promise<void>): void {
    this.#options.onRequest?.();
    try {
      const result = handler();
      if (result instanceof Promise) result.catch((error) => this.#fail(id, op, path, error));
    } catch (error) {
      this.#fail(id, op, path, error);
    }
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

  #stat(id: number, path: string): void {
    this.#options.sftp.attrs(id, attrsOf(this.#paths.stat(path)));
  }

  #fstat(id: number, raw: Buffer): void {
    const [, h] = this.#handleOf(raw);
    if (h.kind === "dir") throw new Refusal(STATUS_CODE.FAILURE, "not a file handle");
    this.#options.sftp.attrs(id, attrsOf(h.kind === "write" ? h.upload.stat() : h.file.statSync()));
  }

  async #opendir(id: number, path: string): Promise<void> {
    const p = this.#paths.resolve(path);
    if (!(await Deno.stat(p.real)).isDirectory) {
      throw new Refusal(STATUS_CODE.FAILURE, "not a folder");
    }
    this.#roomForOne();
    const { limits, user, peer } = this.#options;
    const lease = limits.take(user.name, peer, p.real);
    this.#opening++;
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

  #open(id: number, path: string, flags: number): void {
    this.#roomForOne();
    const p = this.#paths.resolve(path);
    const writing = (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT)) !== 0;
    if (!writing) {
      if (!Deno.statSync(p.real).isFile) throw new Refusal(STATUS_CODE.FAILURE, "not a file");
      const lease = this.#lease();
      try {
        const file = Deno.openSync(p.real, { read: true });
        return this.#newHandle(id, { kind: "read", file, lease });
      } catch (error) {
        lease.release();
        throw error;
      }
    }
    this.#paths.mustBeUploadSpace(p, "writing");
    let existing: Deno.FileInfo | undefined;
    try {
      existing = Deno.statSync(p.real);
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
      const upload = UploadHandle.open(this.#options.desk, p, this.#options.maxFileBytes);
      this.#newHandle(id, { kind: "write", upload, lease });
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  #read(id: number, raw: Buffer, offset: number, length: number): void {
    const [, h] = this.#handleOf(raw);
    if (h.kind !== "read") throw new Refusal(STATUS_CODE.FAILURE, "not opened for reading");
    const buf = Buffer.allocUnsafe(Math.min(length, MAX_READ));
    h.file.seekSync(offset, Deno.SeekMode.Start);
    let n = 0;
    while (n < buf.length) {
      const got = h.file.readSync(buf.subarray(n));
      if (got === null || got === 0) break;
      n += got;
    }
    if (n === 0) return this.#status(id, STATUS_CODE.EOF);
    this.#options.sftp.data(id, n === buf.length ? buf : buf.subarray(0, n));
  }

  #write(id: number, raw: Buffer, offset: number, data: Buffer): void {
    const [, h] = this.#handleOf(raw);
    if (h.kind !== "write") throw new Refusal(STATUS_CODE.FAILURE, "not opened for writing");
    h.upload.write(offset, data);
    this.#status(id, STATUS_CODE.OK);
  }

  async #close(id: number, raw: Buffer): Promise<void> {
    const [n, h] = this.#handleOf(raw);
    this.#handles.delete(n);
    h.lease.release();
    if (h.kind === "dir") return this.#status(id, STATUS_CODE.OK);
    if (h.kind === "read") {
      h.file.close();
      return this.#status(id, STATUS_CODE.OK);
    }
    const { desk, user, jail, peer, log } = this.#options;
    const upload = h.upload;
    upload.closeFile();
    const spoiled = upload.spoiled();
    if (spoiled) {
      upload.discard(desk);
      const level = spoiled.event === "sftp-server.upload-too-large" ? "warn" : "error";
      log[level](spoiled.event, { user: user.name, peer, ...spoiled.fields });
      throw spoiled.refusal;
    }
    // Complete: it takes its name and is taken in, one upload of a name at a time.
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
      upload.discard(desk);
      throw error;
    }
    this.#status(id, STATUS_CODE.OK);
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
   * The channel or connection ended: uploads the client did not close are discarded, never taken
   * in, and reported together (idempotent).
   */
  end(): void {
    this.#ended = true;
    const interrupted: Interrupted[] = [];
    for (const h of this.#handles.values()) {
      h.lease.release();
      if (h.kind === "read") {
        try {
          h.file.close();
        } catch {
          // already closed
        }
      } else if (h.kind === "write") {
        interrupted.push({ file: h.upload.path.virtual, received: h.upload.size });
        h.upload.discard(this.#options.desk);
      }
    }
    this.#handles.clear();
    const { onInterrupted, log, user, peer } = this.#options;
    if (interrupted.length > 0) {
      if (onInterrupted) onInterrupted(interrupted);
      else logInterrupted(log, user.name, peer, interrupted);
    }
    this.#log.end();
    // The client sent EOF (or went away): close our side of the channel too.
    this.#options.sftp.end();
  }
}
