/**
 * How many file descriptors the process holds against its soft limit (Linux: `/proc/self/fd` and
 * `/proc/self/limits`), and whether an error is what running out of them looks like. Counting the
 * open files needs a descriptor itself: when none is left the count fails with EMFILE, and that
 * failure is the reading ("exhausted": every descriptor taken, the last limit seen).
 * @module
 */

/** The process's descriptors against its limit, as read once. */
export interface FileUse {
  /** Descriptors open (the limit when {@link exhausted}); undefined when not known. */
  open?: number;
  /** The soft limit on open files (`ulimit -n`), when known. */
  limit?: number;
  /** True when counting them failed for want of a descriptor (EMFILE or ENFILE). */
  exhausted: boolean;
}

/** The share of the limit from which the process counts as out of descriptors. */
export const NEAR_FILE_LIMIT = 0.9;

/** The last soft limit read: what an exhausted reading reports (reading it needs a descriptor). */
let knownLimit: number | undefined;

/** Error codes of a system call that failed for want of a descriptor (EINVAL: see below). */
const SHORTAGE_CODES = new Set(["EMFILE", "ENFILE"]);

/**
 * Reads the process's open files and limit now; undefined where `/proc` is missing (or
 * unreadable for another reason).
 */
export function readOpenFiles(): FileUse | undefined {
  try {
    let n = -1; // the listing's own descriptor is in it
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = limits.match(/^Max open files\s+(\d+)/m)?.[1];
    if (soft) knownLimit = Number(soft);
    return {
      open: n,
      ...(knownLimit !== undefined ? { limit: knownLimit } : {}),
      exhausted: false,
    };
  } catch (error) {
    if (!isShortage(error)) return undefined;
    // EMFILE: every descriptor of the process is taken (ENFILE: the system's; the count unknown).
    const emfile = errorCode(error) === "EMFILE" || /os error 24\b/.test(String(error));
    return {
      ...(emfile && knownLimit !== undefined ? { open: knownLimit } : {}),
      ...(knownLimit !== undefined ? { limit: knownLimit } : {}),
      exhausted: true,
    };
  }
}

/** True when `use` shows the process out of descriptors, or within 10 % of its limit. */
export function nearFileLimit(use: FileUse | undefined): boolean {
  if (!use) return false;
  if (use.exhausted) return true;
  return use.open !== undefined && use.limit !== undefined && use.limit > 0 &&
    use.open >= use.limit * NEAR_FILE_LIMIT;
}

/** `N of M open` (or what is known of it), for a reason in words. */
export function fileUseText(use: FileUse): string {
  if (use.open === undefined) return "every descriptor open";
  return use.limit !== undefined ? `${use.open} of ${use.limit} open` : `${use.open} open`;
}

/** The reading as log fields `openFiles` and `fileLimit` (empty where unknown). */
export function fileUseFields(
  use: FileUse | undefined,
): { openFiles?: number; fileLimit?: number } {
  return {
    ...(use?.open !== undefined ? { openFiles: use.open } : {}),
    ...(use?.limit !== undefined ? { fileLimit: use.limit } : {}),
  };
}

/**
 * True for an error a system call gives for want of a descriptor: EMFILE (the process's limit),
 * ENFILE (the system's), and EINVAL, which a name lookup (getaddrinfo) or connect can give when
 * it could not open the socket or file it needed. Judged by `code`, or by the "(os error N)" of
 * the message (an error that crossed a worker's message port keeps only its text). EINVAL alone
 * proves nothing: callers say "out of descriptors" only when a reading shows it.
 */
export function isDescriptorError(error: unknown): boolean {
  if (isShortage(error)) return true;
  return errorCode(error) === "EINVAL" || /\(os error 22\)/.test(errorText(error));
}

function isShortage(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined && SHORTAGE_CODES.has(code)) return true;
  return /\(os error 2[34]\)/.test(errorText(error));
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * `: the engine is out of file descriptors (N of M open)` when `error` is one a connect or its
 * name lookup gives for want of a descriptor (EMFILE, ENFILE; EINVAL, or a failed lookup, which
 * getaddrinfo gives when it could not open the socket or file it needed) and `use` (read now by
 * default) shows the process at its limit; "" otherwise. For the end of a connect failure's
 * reason, which would otherwise name only the symptom ("Invalid argument (os error 22)").
 */
export function outOfFilesNote(
  error: unknown,
  use: () => FileUse | undefined = readOpenFiles,
): string {
  const lookup = /failed to lookup address/i.test(errorText(error));
  if (!lookup && !isDescriptorError(error)) return "";
  const reading = use();
  if (!reading || !nearFileLimit(reading)) return "";
  return `: the engine is out of file descriptors (${fileUseText(reading)})`;
}
