/**
 * How the hosted folder answers SFTP requests: a status for every error (clients see a short
 * reason, never a host path or a system message), and attributes and `ls -l` lines for entries.
 * @module
 */

// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { JailError, NameTooLong } from "./jail.ts";
import { errorMessage } from "../../actors/mod.ts";

const { STATUS_CODE } = ssh2.utils.sftp;

/** A request refused with a status and a message for the client. */
export class Refusal extends Error {
  /** The SFTP status code to answer with. */
  readonly code: number;

  /** Refuses with `code` and `message`. */
  constructor(code: number, message: string) {
    super(message);
    this.name = "Refusal";
    this.code = code;
  }
}

/**
 * The status for an error thrown while serving a request; `unexpected` carries the real reason
 * (for the log) when the client only gets a generic message.
 */
export function replyFor(error: unknown): { code: number; message: string; unexpected?: string } {
  if (error instanceof Refusal) return { code: error.code, message: error.message };
  if (error instanceof NameTooLong) return { code: STATUS_CODE.FAILURE, message: error.message };
  if (error instanceof JailError) {
    return { code: STATUS_CODE.PERMISSION_DENIED, message: error.message };
  }
  if (error instanceof Deno.errors.NotFound) {
    return { code: STATUS_CODE.NO_SUCH_FILE, message: "no such file or folder" };
  }
  if (error instanceof Deno.errors.AlreadyExists) {
    return { code: STATUS_CODE.FAILURE, message: "already exists" };
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return { code: STATUS_CODE.PERMISSION_DENIED, message: "permission denied" };
  }
  return {
    code: STATUS_CODE.FAILURE,
    message: "the server could not do that",
    unexpected: errorMessage(error),
  };
}

/** A system error's text without its ` (os error 28)` tail: `No space left on device`. */
export function osReason(error: unknown): string {
  return errorMessage(error).replace(/ \(os error \d+\)$/, "");
}

/** Absolute paths in a message (after a space, quote, bracket, `=` or `:`, or at its start). */
const HOST_PATH = /(^|[\s'"(=:])(\/[^\s'"()]*)/g;

/**
 * Why something failed, in words a client may read: a file-system error becomes a short generic
 * reason (its message names host paths), and in any other message a path inside the user's folder
 * (`home`) becomes the path the client knows and every other absolute path becomes `<path>`.
 */
export function forClient(error: unknown, home: string): string {
  if (error instanceof Deno.errors.NotFound) return "the file was removed before it was read";
  if (error instanceof Deno.errors.PermissionDenied) return "the engine may not read it";
  if (isFileSystemError(error)) return "the engine could not read it";
  return errorMessage(error)
    .replace(HOST_PATH, (_, before: string, path: string) => {
      const inside = path === home || path.startsWith(`${home}/`);
      return before + (inside ? path.slice(home.length) || "/" : "<path>");
    })
    .replace(/ \(os error \d+\)/g, "");
}

function isFileSystemError(error: unknown): boolean {
  return Object.values(Deno.errors).some((kind) => error instanceof kind);
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** SFTP attributes of a file or folder (owner hidden). */
export function attrsOf(info: Deno.FileInfo): ssh2.Attributes {
  const seconds = (d: Date | null) => Math.floor((d?.getTime() ?? 0) / 1000);
  return {
    mode: (info.isDirectory ? S_IFDIR : S_IFREG) | ((info.mode ?? 0o640) & 0o777),
    uid: 0,
    gid: 0,
    size: info.size,
    atime: seconds(info.atime ?? info.mtime),
    mtime: seconds(info.mtime),
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** An `ls -l` line, which clients show for `ls -l`. */
export function longName(name: string, info: Deno.FileInfo, owner: string): string {
  const mode = (info.mode ?? 0o640) & 0o777;
  const rwx = [6, 3, 0].map((s) =>
    ((mode >> s) & 4 ? "r" : "-") + ((mode >> s) & 2 ? "w" : "-") + ((mode >> s) & 1 ? "x" : "-")
  ).join("");
  const d = info.mtime ?? new Date(0);
  const when = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${
    String(d.getUTCHours()).padStart(2, "0")
  }:${String(d.getUTCMinutes()).padStart(2, "0")}`;
  const size = String(info.size).padStart(10);
  return `${info.isDirectory ? "d" : "-"}${rwx}    1 ${owner} ${owner} ${size} ${when} ${name}`;
}
