/**
 * What the SFTP actors need from a transport: open a session to a remote server (key login, host
 * key pinned by fingerprint) and work with its files. `main.ts` injects the ssh2 implementation
 * from `transports/sftp/`; tests may inject fakes through the same interfaces. The typed errors
 * here let actors tell a refused host key from a full disk without parsing messages.
 * @module
 */

/** Where and how to log in. */
export interface SftpConnectOptions {
  host: string;
  port: number;
  user: string;
  /** An RSA (or other OpenSSH-supported) private key, PEM or OpenSSH format. */
  privateKey: string;
  passphrase?: string;
  /** `SHA256:<base64>` as `ssh-keygen -lf` prints it; any other host key is refused. */
  hostKeyFingerprint: string;
  /** Handshake and login must finish within this many ms, default 20 s. */
  timeoutMs?: number;
  /** Aborting closes the connection under way. */
  signal?: AbortSignal;
}

/** One entry of a folder listing. */
export interface SftpEntry {
  name: string;
  size: number;
  /** Last modification, ms since the epoch (SFTP carries whole seconds). */
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

/** What {@link SftpSession.stat} says about a path. */
export type SftpStat = Omit<SftpEntry, "name">;

/** How {@link SftpSession.list} reads a folder. */
export interface SftpListOptions {
  /**
   * Stop asking the server for more once more than this many entries are read. The result then
   * holds what was read (at most this many plus one answer of the server), so a result longer
   * than `maxEntries` says the folder holds more than was listed. No limit by default.
   */
  maxEntries?: number;
  /** Called at each answer of the server while the listing goes on, with the entries so far. */
  onProgress?: (listed: number) => void;
  /**
   * Names longer than this (in UTF-16 code units) are left out of the result and reported to
   * {@link onLongName} instead: a server listing huge names (an SFTP packet holds up to 256 KiB)
   * would otherwise make a listing of `maxEntries` entries cost gigabytes. No limit by default.
   */
  maxNameLength?: number;
  /** Called for each name left out by {@link maxNameLength}, with its length and its start. */
  onLongName?: (length: number, start: string) => void;
}

/** An open SFTP session. Paths are as the server understands them (relative to the login folder). */
export interface SftpSession {
  /** The entries of a folder (without `.` and `..`); see {@link SftpListOptions}. */
  list(folder: string, options?: SftpListOptions): Promise<SftpEntry[]>;
  /**
   * The whole content of a file. Rejects with {@link FileTooLargeError} as soon as the file is
   * known to exceed `maxBytes` (before downloading the rest).
   */
  read(path: string, options: { maxBytes: number; signal?: AbortSignal }): Promise<Uint8Array>;
  /** Creates or truncates `path` and writes `bytes`, durably where the server can flush. */
  write(path: string, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
  /** Renames; fails if `to` exists (SFTP v3 semantics). */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file. */
  remove(path: string): Promise<void>;
  /** Creates a folder (and its parents with `recursive`); an existing folder is not an error. */
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** What `path` is, or `undefined` when there is no such file. */
  stat(path: string): Promise<SftpStat | undefined>;
  /** Ends the session (idempotent). */
  close(): void;
  /** False once the connection is gone for any reason. */
  readonly open: boolean;
  /** Local address:port of the connection, for the admin endpoint. */
  readonly local?: string;
}

/** Opens sessions. */
export interface SftpConnector {
  /**
   * Connects, checks the host key, logs in with the key and starts the SFTP subsystem. Rejects
   * with {@link HostKeyMismatchError}, {@link SftpAuthError} or an Error saying why.
   */
  connect(options: SftpConnectOptions): Promise<SftpSession>;
}

/**
 * Something that hands out sessions to one place (a remote server, or a hosted user's outbox):
 * what the deliverer and the poller depend on, so key choice stays out of them.
 */
export interface SftpSessionSource {
  /** A fresh session; rejects with the reason it could not be opened. */
  open(signal?: AbortSignal): Promise<SftpSession>;
  /** For the admin endpoint: where it connects and with which key. */
  describe(): Record<string, unknown>;
}

/** The server presented a host key other than the pinned one. */
export class HostKeyMismatchError extends Error {
  /** The configured fingerprint. */
  readonly expected: string;
  /** The fingerprint the server presented. */
  readonly actual: string;

  /** A mismatch at `where` (host:port). */
  constructor(where: string, expected: string, actual: string) {
    super(
      `host key of ${where} is ${actual}, expected ${expected}: refused (if the server's key ` +
        `really changed, update hostKeyFingerprint)`,
    );
    this.name = "HostKeyMismatchError";
    this.expected = expected;
    this.actual = actual;
  }
}

/** The server refused the login (wrong user or a key it does not know). */
export class SftpAuthError extends Error {
  /** A refusal for `user` at `where`. */
  constructor(where: string, user: string, detail?: string) {
    super(`login as ${user} at ${where} refused${detail ? `: ${detail}` : ""}`);
    this.name = "SftpAuthError";
  }
}

/** A file is larger than the caller accepts. */
export class FileTooLargeError extends Error {
  readonly path: string;
  readonly size: number;
  readonly limit: number;

  /** `path` has (at least) `size` bytes, over `limit`. */
  constructor(path: string, size: number, limit: number) {
    super(`${path} has ${size} bytes, more than the limit of ${limit}`);
    this.name = "FileTooLargeError";
    this.path = path;
    this.size = size;
    this.limit = limit;
  }
}

/** SFTP status codes an actor may act on. */
export type SftpStatusKind =
  | "no-such-file"
  | "permission-denied"
  | "failure"
  | "unsupported"
  | "connection-lost";

/** A request the server answered with an error status (or that a lost connection ended). */
export class SftpStatusError extends Error {
  readonly kind: SftpStatusKind;

  /** `what` failed with `kind`; `detail` is the server's text. */
  constructor(what: string, kind: SftpStatusKind, detail?: string) {
    super(`${what}: ${kind}${detail && detail !== kind ? ` (${detail})` : ""}`);
    this.name = "SftpStatusError";
    this.kind = kind;
  }
}
