/**
 * What an SFTP server's answers mean to the actors: a request's error status as a
 * {@link SftpStatusError} naming what was asked, and a file's attributes as an {@link SftpStat}.
 * @module
 */

// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import type { SftpStat, SftpStatusKind } from "../../actors/ports.ts";
import { SftpStatusError } from "../../actors/mod.ts";

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** Whether an SFTP request's error is the status EOF (the end of a listing). */
export const isEof = (error: unknown): boolean =>
  (error as { code?: unknown } | undefined)?.code === 1;

/** An error of an SFTP request as a {@link SftpStatusError} naming what was asked. */
export function statusError(what: string, error: unknown): SftpStatusError {
  const e = error as { code?: unknown; message?: string };
  const kinds: Record<number, SftpStatusKind> = {
    2: "no-such-file",
    3: "permission-denied",
    4: "failure",
    8: "unsupported",
  };
  const kind = typeof e.code === "number" ? kinds[e.code] : undefined;
  if (kind) return new SftpStatusError(what, kind, e.message);
  if (/no response from server|not connected|channel.*closed/i.test(e.message ?? "")) {
    return new SftpStatusError(what, "connection-lost", e.message);
  }
  return new SftpStatusError(what, "failure", e.message ?? String(error));
}

/** A file's attributes as listed or stat'ed (the type from the mode, else from `ls -l`'s line). */
export function attrsOf(attrs: ssh2.Attributes, longname?: string): SftpStat {
  const mode = attrs.mode;
  const type = typeof mode === "number" ? mode & S_IFMT : undefined;
  return {
    size: Number(attrs.size ?? 0),
    mtimeMs: Number(attrs.mtime ?? 0) * 1000,
    isFile: type !== undefined ? type === S_IFREG : longname?.startsWith("-") === true,
    isDirectory: type !== undefined ? type === S_IFDIR : longname?.startsWith("d") === true,
  };
}
