/**
 * One upload being written to the hosted folder: its hidden staging file, the bytes received, and
 * whether it is spoiled. An upload is spoiled by a write over the size limit or by a write the
 * file system refused (disk full, I/O error, quota…): every later write is refused too, and its
 * close discards it and says why, so a file with a hole in it is never taken in.
 *
 * Its file-system calls are asynchronous (a slow disk holds the upload, not the engine's thread);
 * the session runs one request at a time (`folder_sftp.ts`), so writes never overlap.
 * @module
 */

// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Buffer } from "node:buffer";
import { osReason, Refusal } from "./folder_replies.ts";
import type { JailedPath } from "./jail.ts";
import type { UploadDesk } from "./uploads.ts";

const { STATUS_CODE } = ssh2.utils.sftp;

/** Why an upload was spoiled, for the log. */
export interface Spoiled {
  /** `sftp-server.upload-too-large` or `sftp-server.upload-write-failed`. */
  event: string;
  fields: Record<string, unknown>;
  /** The answer to the close. */
  refusal: Refusal;
}

/** See the module doc. */
export class UploadHandle {
  /** Where the client writes. */
  readonly path: JailedPath;
  /** The hidden file the bytes go to until the close. */
  readonly staging: string;
  /** The end of the furthest write so far. */
  size = 0;
  readonly #file: Deno.FsFile;
  readonly #maxFileBytes: number;
  /** The file's offset (NaN when unknown): a write where the last one ended skips the seek. */
  #position = 0;
  #closed = false;
  #tooLarge = false;
  /** The first write error and how many writes were refused since it happened. */
  #failure: { reason: string; writes: number } | undefined;

  private constructor(path: JailedPath, staging: string, file: Deno.FsFile, max: number) {
    this.path = path;
    this.staging = staging;
    this.#file = file;
    this.#maxFileBytes = max;
  }

  /** Creates the staging file for an upload to `path`. */
  static async open(
    desk: UploadDesk,
    path: JailedPath,
    maxFileBytes: number,
  ): Promise<UploadHandle> {
    const staging = desk.stage(path.real);
    try {
      const file = await Deno.open(staging, { write: true, createNew: true, mode: 0o640 });
      return new UploadHandle(path, staging, file, maxFileBytes);
    } catch (error) {
      desk.unstage(staging);
      throw error;
    }
  }

  /**
   * Writes `data` at `offset`; throws a {@link Refusal} (and spoils the upload) if it cannot. One
   * write at a time: the caller awaits each before the next.
   */
  async write(offset: number, data: Buffer): Promise<void> {
    if (this.#failure) {
      this.#failure.writes++;
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `a write to this file failed earlier (${this.#failure.reason}); the upload will be discarded, send it again`,
      );
    }
    const end = offset + data.length;
    if (this.#tooLarge || end > this.#maxFileBytes) {
      this.#tooLarge = true;
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `file larger than the limit of ${this.#maxFileBytes} bytes: refused`,
      );
    }
    try {
      if (this.#position !== offset) {
        this.#position = NaN; // unknown until the seek is done
        await this.#file.seek(offset, Deno.SeekMode.Start);
        this.#position = offset;
      }
      let n = 0;
      while (n < data.length) {
        const wrote = await this.#file.write(data.subarray(n));
        n += wrote;
        this.#position += wrote;
      }
    } catch (error) {
      this.#position = NaN;
      this.#failure = { reason: osReason(error), writes: 1 };
      throw new Refusal(
        STATUS_CODE.FAILURE,
        `the write failed (${this.#failure.reason}); the upload will be discarded, send it again`,
      );
    }
    this.size = Math.max(this.size, end);
  }

  /** The staging file's attributes with the size received. */
  async stat(): Promise<Deno.FileInfo> {
    return { ...(await this.#file.stat()), size: this.size };
  }

  /** Closes the staging file (idempotent). */
  closeFile(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }

  /** Why the upload must be discarded at its close, if it must. */
  spoiled(): Spoiled | undefined {
    const file = this.path.virtual;
    if (this.#tooLarge) {
      return {
        event: "sftp-server.upload-too-large",
        fields: { file, limit: this.#maxFileBytes },
        refusal: new Refusal(
          STATUS_CODE.FAILURE,
          `file larger than the limit of ${this.#maxFileBytes} bytes: discarded`,
        ),
      };
    }
    if (this.#failure) {
      const { reason, writes } = this.#failure;
      return {
        event: "sftp-server.upload-write-failed",
        fields: { file, received: this.size, failedWrites: writes, reason },
        refusal: new Refusal(
          STATUS_CODE.FAILURE,
          `a write to this file failed earlier (${reason}); the upload was discarded, send it again`,
        ),
      };
    }
    return undefined;
  }

  /** Closes and removes the staging file. */
  async discard(desk: UploadDesk): Promise<void> {
    this.closeFile();
    try {
      await Deno.remove(this.staging);
    } catch {
      // gone already
    }
    desk.unstage(this.staging);
  }
}
