/**
 * The SFTP requests of one logged-in hosted user, served from its folder (its `/`):
 *
 * - uploads go anywhere but `outbox/` and `archive/`; each is written to a hidden staging file
 *   and becomes visible under its name only when the client closes it, at which point it is
 *   taken in (stored by the engine, then archived) before the close is answered; a held-back
 *   name (`x.filepart`, `.x.part`…) is taken in when the client renames it to its final name;
 * - an upload cut off (connection lost before the close) is discarded: nothing half-ingested;
 * - `outbox/` offers the files the engine delivered to this user: readable and removable only;
 * - `archive/` shows what was taken in: readable only;
 * - symbolic links are never followed and nothing outside the folder can be named.
 * @module
 */

import { Buffer } from "node:buffer";
import { join } from "node:path";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Logger } from "../../actors/ports.ts";
import { attrsOf, longName, Refusal, replyFor } from "./folder_replies.ts";
import type { FolderJail, JailedPath } from "./jail.ts";
import type { HostedUser } from "./server_users.ts";
import { RESERVED, STAGING, type UploadDesk } from "./uploads.ts";
import { errorMessage } from "../../actors/mod.ts";

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;

/** Largest READ answered (clients ask 32–256 KiB). */
const MAX_READ = 256 * 1024;
/** Open handles per session. */
const MAX_HANDLES = 64;
/** Directory entries per READDIR answer. */
const DIR_BATCH = 100;

type Handle =
  | { kind: "read"; file: Deno.FsFile; path: JailedPath }
  | {
    kind: "write";
    file: Deno.FsFile;
    path: JailedPath;
    staging: string;
    size: number;
    tooLarge: boolean;
  }
  | { kind: "dir"; entries: ssh2.FileEntry[] };

/** What a session serves from. */
export interface FolderSftpOptions {
  sftp: ssh2.SFTPWrapper;
  user: HostedUser;
  jail: FolderJail;
  desk: UploadDesk;
  peer: string;
  maxFileBytes: number;
  log: Logger;
}

/** See the module doc. */
export class FolderSftpSession {
  readonly #options: FolderSftpOptions;
  readonly #handles = new Map<number, Handle>();
  #nextHandle = 1;

  /** Serves `options.sftp` until the channel closes. */
  constructor(options: FolderSftpOptions) {
    this.#options = options;
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
    s.on("REMOVE", (id, path) => this.#run(id, "remove", path, () => this.#remove(id, path)));
    s.on(
      "RENAME",
      (id, from, to) => this.#run(id, "rename", from, () => this.#rename(id, from, to)),
    );
    s.on("MKDIR", (id, path) => this.#run(id, "mkdir", path, () => this.#mkdir(id, path)));
    s.on("RMDIR", (id, path) => this.#run(id, "rmdir", path, () => this.#rmdir(id, path)));
    // Times and modes are the server's business; accepted and ignored so `put -p` works.
    s.on("SETSTAT", (id, path) => this.#run(id, "setstat", path, () => this.#setstat(id, path)));
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
    try {
      const result = handler();
      if (result instanceof Promise) result.catch((error) => this.#fail(id, op, path, error));
    } catch (error) {
      this.#fail(id, op, path, error);
    }
  }

  #fail(id: number, op: string, path: string, error: unknown): void {
    const { code, message, unexpected } = replyFor(error);
    const where = { user: this.#options.user.name, peer: this.#options.peer, op, path };
    if (unexpected) {
      this.#options.log.error("sftp-server.request-failed", { ...where, reason: unexpected });
    }
    if (code === STATUS_CODE.PERMISSION_DENIED) {
      this.#options.log.warn("sftp-server.denied", { ...where, reason: message });
    }
    this.#status(id, code, message);
  }

  #status(id: number, code: number, message?: string): void {
    try {
      this.#options.sftp.status(id, code, message);
    } catch {
      // The channel closed meanwhile.
    }
  }

  /** Resolves inside the folder, refusing links and our own hidden files. */
  #resolve(path: string): JailedPath {
    const p = this.#options.jail.resolveChecked(path);
    const leaf = p.segments[p.segments.length - 1];
    if (leaf && this.#hidden(p.segments.slice(0, -1), leaf)) {
      throw new Refusal(STATUS_CODE.NO_SUCH_FILE, "no such file or folder");
    }
    return p;
  }

  /** Staging files anywhere, and deliveries still being written in `outbox/`. */
  #hidden(parent: string[], name: string): boolean {
    if (STAGING.test(name)) return true;
    return parent[0] === "outbox" && this.#options.desk.holdBack(name);
  }

  #mustBeUploadSpace(p: JailedPath, what: string): void {
    if (p.segments.length === 0 || RESERVED.has(p.segments[0]!)) {
      throw new Refusal(
        STATUS_CODE.PERMISSION_DENIED,
        `${what} ${p.virtual} refused: outbox/ and archive/ are read-only (upload elsewhere)`,
      );
    }
  }

  #handleOf(raw: Buffer): [number, Handle] {
    const n = raw.length === 4 ? raw.readUInt32BE(0) : -1;
    const handle = this.#handles.get(n);
    if (!handle) throw new Refusal(STATUS_CODE.FAILURE, "invalid handle");
    return [n, handle];
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
    const p = this.#resolve(path);
    this.#options.sftp.attrs(id, attrsOf(Deno.statSync(p.real)));
  }

  #fstat(id: number, raw: Buffer): void {
    const [, h] = this.#handleOf(raw);
    if (h.kind === "dir") throw new Refusal(STATUS_CODE.FAILURE, "not a file handle");
    const info = h.file.statSync();
    this.#options.sftp.attrs(id, attrsOf(h.kind === "write" ? { ...info, size: h.size } : info));
  }

  #opendir(id: number, path: string): void {
    const p = this.#resolve(path);
    if (!Deno.statSync(p.real).isDirectory) throw new Refusal(STATUS_CODE.FAILURE, "not a folder");
    if (this.#handles.size >= MAX_HANDLES) {
      throw new Refusal(STATUS_CODE.FAILURE, "too many open handles");
    }
    const entries: ssh2.FileEntry[] = [];
    for (const e of Deno.readDirSync(p.real)) {
      if (e.isSymlink || this.#hidden(p.segments, e.name)) continue;
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(join(p.real, e.name));
      } catch {
        continue; // removed meanwhile
      }
      entries.push({
        filename: e.name,
        longname: longName(e.name, info, this.#options.user.name),
        attrs: attrsOf(info),
      });
    }
    entries.sort((a, b) => (a.filename < b.filename ? -1 : 1));
    this.#newHandle(id, { kind: "dir", entries });
  }

  #readdir(id: number, raw: Buffer): void {
    const [, h] = this.#handleOf(raw);
    if (h.kind !== "dir") throw new Refusal(STATUS_CODE.FAILURE, "not a folder handle");
    if (h.entries.length === 0) return this.#status(id, STATUS_CODE.EOF);
    this.#options.sftp.name(id, h.entries.splice(0, DIR_BATCH));
  }

  #open(id: number, path: string, flags: number): void {
    if (this.#handles.size >= MAX_HANDLES) {
      throw new Refusal(STATUS_CODE.FAILURE, "too many open handles");
    }
    const p = this.#resolve(path);
    const writing = (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT)) !== 0;
    if (!writing) {
      if (!Deno.statSync(p.real).isFile) throw new Refusal(STATUS_CODE.FAILURE, "not a file");
      const file = Deno.openSync(p.real, { read: true });
      return this.#newHandle(id, { kind: "read", file, path: p });
    }
    this.#mustBeUploadSpace(p, "writing");
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
    const staging = this.#options.desk.stage(p.real);
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(staging, { write: true, createNew: true, mode: 0o640 });
    } catch (error) {
      this.#options.desk.unstage(staging);
      throw error;
    }
    this.#newHandle(id, { kind: "write", file, path: p, staging, size: 0, tooLarge: false });
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
    const end = offset + data.length;
    if (h.tooLarge || end > this.#options.maxFileBytes) {
      h.tooLarge = true;
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `file larger than the limit of ${this.#options.maxFileBytes} bytes: refused`,
      );
    }
    h.file.seekSync(offset, Deno.SeekMode.Start);
    let n = 0;
    while (n < data.length) n += h.file.writeSync(data.subarray(n));
    h.size = Math.max(h.size, end);
    this.#status(id, STATUS_CODE.OK);
  }

  async #close(id: number, raw: Buffer): Promise<void> {
    const [n, h] = this.#handleOf(raw);
    this.#handles.delete(n);
    if (h.kind === "dir") return this.#status(id, STATUS_CODE.OK);
    h.file.close();
    if (h.kind === "read") return this.#status(id, STATUS_CODE.OK);
    const { desk, user, log } = this.#options;
    if (h.tooLarge) {
      this.#discard(h.staging);
      log.warn("sftp-server.upload-too-large", {
        user: user.name,
        file: h.path.virtual,
        limit: this.#options.maxFileBytes,
      });
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `file larger than the limit of ${this.#options.maxFileBytes} bytes: discarded`,
      );
    }
    // Complete: it takes its name now (replacing an earlier upload of the same name).
    Deno.renameSync(h.staging, h.path.real);
    desk.unstage(h.staging);
    if (desk.holdBack(h.path.segments[h.path.segments.length - 1]!)) {
      return this.#status(id, STATUS_CODE.OK);
    }
    await this.#takeIn(id, h.path);
  }

  /** Takes a completed file in and answers the request that completed it. */
  async #takeIn(id: number, p: JailedPath): Promise<void> {
    const { desk, user, jail, peer } = this.#options;
    try {
      await desk.takeIn(user, jail, p, peer);
    } catch (error) {
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `received, but the engine could not store it (${
          errorMessage(error)
        }); it stays here and will be retried`,
      );
    }
    this.#status(id, STATUS_CODE.OK);
  }

  #remove(id: number, path: string): void {
    const p = this.#resolve(path);
    const inOutbox = p.segments[0] === "outbox" && p.segments.length > 1;
    if (!inOutbox) this.#mustBeUploadSpace(p, "removing");
    if (!Deno.lstatSync(p.real).isFile) throw new Refusal(STATUS_CODE.FAILURE, "not a file");
    Deno.removeSync(p.real);
    this.#status(id, STATUS_CODE.OK);
  }

  async #rename(id: number, from: string, to: string): Promise<void> {
    const a = this.#resolve(from);
    const b = this.#resolve(to);
    this.#mustBeUploadSpace(a, "renaming");
    this.#mustBeUploadSpace(b, "renaming to");
    const info = Deno.lstatSync(a.real);
    let taken = true;
    try {
      Deno.lstatSync(b.real);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      taken = false;
    }
    if (taken) throw new Refusal(STATUS_CODE.FAILURE, `${b.virtual} already exists`);
    Deno.renameSync(a.real, b.real);
    const leafA = a.segments[a.segments.length - 1]!;
    const leafB = b.segments[b.segments.length - 1]!;
    const { desk } = this.#options;
    if (info.isFile && desk.holdBack(leafA) && !desk.holdBack(leafB)) {
      return await this.#takeIn(id, b);
    }
    this.#status(id, STATUS_CODE.OK);
  }

  #mkdir(id: number, path: string): void {
    const p = this.#resolve(path);
    this.#mustBeUploadSpace(p, "making a folder");
    Deno.mkdirSync(p.real, { mode: 0o750 });
    this.#status(id, STATUS_CODE.OK);
  }

  #rmdir(id: number, path: string): void {
    const p = this.#resolve(path);
    this.#mustBeUploadSpace(p, "removing a folder");
    if (!Deno.lstatSync(p.real).isDirectory) throw new Refusal(STATUS_CODE.FAILURE, "not a folder");
    Deno.removeSync(p.real);
    this.#status(id, STATUS_CODE.OK);
  }

  #setstat(id: number, path: string): void {
    Deno.statSync(this.#resolve(path).real);
    this.#status(id, STATUS_CODE.OK);
  }

  #fsetstat(id: number, raw: Buffer): void {
    this.#handleOf(raw);
    this.#status(id, STATUS_CODE.OK);
  }

  /**
   * The channel or connection ended: uploads the client did not close are discarded, never taken
   * in (idempotent).
   */
  end(): void {
    for (const h of this.#handles.values()) {
      if (h.kind === "dir") continue;
      try {
        h.file.close();
      } catch {
        // already closed
      }
      if (h.kind === "write") {
        this.#discard(h.staging);
        this.#options.log.warn("sftp-server.upload-interrupted", {
          user: this.#options.user.name,
          peer: this.#options.peer,
          file: h.path.virtual,
          received: h.size,
          reason: "connection closed before the file was closed; discarded",
        });
      }
    }
    this.#handles.clear();
    // The client sent EOF (or went away): close our side of the channel too.
    this.#options.sftp.end();
  }

  #discard(staging: string): void {
    try {
      Deno.removeSync(staging);
    } catch {
      // gone already
    }
    this.#options.desk.unstage(staging);
  }
}
