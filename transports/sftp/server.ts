/**
 * The hosted SFTP folder: an SSH server (ssh2) with its own host key where each counterparty logs
 * in as its own user with one of its public keys (several per user for rotation; passwords and
 * every other method refused) and reaches only its folder `<root>/<user>/` (see
 * `folder_sftp.ts` for what it may do there). Completed uploads are handed to `onUpload` and
 * archived only once it resolves.
 *
 * In all, at most `maxConnections` connections at once (config `limits.maxSftpConnections`,
 * {@link MAX_SFTP_CONNECTIONS}); per source address at most `maxConnectionsPerIp`, and after
 * `maxFailedLoginsPerIp` failed logins the address is refused for a while. Every refusal happens
 * at TCP accept (the socket closed at once, before the SSH banner: no key exchange is spent on
 * it): past the total cap one `sftp.connection-refused` line per address every 5 s with how many
 * were refused (`transports/net/connection_caps.ts`, as `http.connection-refused`); the others
 * `sftp-server.refused`, once a minute per address and cause. A connection must log in within
 * the grace period. Algorithms are SHA-1-free (`algorithms.ts`); RSA logins must sign with SHA-2.
 *
 * What a peer can make the server log without logging in is bounded per address: refusals as
 * above (a client that picks SHA-1 host key signatures too); SSH errors (a failed key exchange,
 * a reset) at most one `sftp-server.ssh-error` line (DEBUG) per address and kind every 5 s, with
 * how many it stands for (`errors`); failed logins one line each up to the lockout (their count
 * is `failures`), and beyond it (connections that were open before it) one line per address
 * every 5 s. A connection that closes before offering a credential has one
 * `sftp-server.closed-before-login` line per address and phase every 5 s naming the phase it
 * reached and why, in the counterparty's terms (`pre_login_log.ts`).
 *
 * Once logged in: open files and folders are capped per user and across the server
 * (`handle_limits.ts`), and a connection that holds some open but sends no request for
 * {@link IDLE_TIMEOUT_MS} is closed (`sftp-server.idle-closed`; its uploads are discarded).
 * That period, the lockout and the refusal log's minute are measured on the monotonic clock: an
 * NTP step or `date -s` neither ends nor stretches them.
 *
 * The engine's thread never waits on the disk: every file-system call is asynchronous, and a
 * session whose requests pile up behind a slow disk stops its connection from being read until
 * it catches up (`folder_sftp.ts`; `sftp-server.backlog-full`, DEBUG). {@link stop} waits for the
 * requests being served and the take-ins under way. Files stored but not archived are remembered
 * under `<root>/.archive-pending/` and never stored twice (`uploads.ts`).
 * @module
 */

import { createServer, type Server as NetServer, type Socket } from "node:net";
import { join } from "node:path";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Clock, Logger } from "../../actors/ports.ts";
import { systemClock } from "../../actors/mod.ts";
import { AddressLimits, MAX_SFTP_CONNECTIONS } from "./address_limits.ts";
import { ArchivePending } from "./archive_pending.ts";
import { MODERN_ALGORITHMS } from "./algorithms.ts";
import { sshFingerprint } from "./fingerprint.ts";
import { InterruptedLog } from "./folder_log.ts";
import { ClientOpening, PreLoginLog } from "./pre_login_log.ts";
import { FolderSftpSession } from "./folder_sftp.ts";
import { halfTheFdLimit, HandleLimits } from "./handle_limits.ts";
import { FolderJail } from "./jail.ts";
import {
  authenticate,
  type HostedUserConfig,
  type LoginState,
  UserDirectory,
} from "./server_users.ts";
import { RESERVED, type Upload, UploadDesk } from "./uploads.ts";
import { type AcceptWatch, watchAccepts } from "../net/accept_watch.ts";
import { ConnectionCaps, REFUSAL_LOG_INTERVAL_MS } from "../net/connection_caps.ts";
import { LogThrottle } from "../../actors/mod.ts";

export type { Upload } from "./uploads.ts";
export { MAX_SFTP_CONNECTIONS } from "./address_limits.ts";

/** How to run the hosted folder (config `sftpServer` plus what the engine injects). */
export interface HostedSftpServerOptions {
  hostname: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** The server's private host key (OpenSSH or PEM); ed25519 recommended. */
  hostKey: string;
  /** Folder holding one folder per user. */
  root: string;
  users: readonly HostedUserConfig[];
  /**
   * Most connections open at once, from all addresses (config `limits.maxSftpConnections`),
   * default {@link MAX_SFTP_CONNECTIONS} (200).
   */
  maxConnections?: number;
  maxConnectionsPerIp: number;
  maxFailedLoginsPerIp: number;
  /** How long an address stays refused after too many failed logins, default 15 min. */
  lockoutMs?: number;
  /** Larger uploads are refused while they are written (config `limits.maxHl7Bytes`). */
  maxFileBytes: number;
  /** Stores a completed upload durably; the file is archived only after it resolves. */
  onUpload(upload: Upload): Promise<void>;
  /** Names still being written (`x.filepart`…): taken in when renamed, not when closed. */
  holdBack(name: string): boolean;
  log: Logger;
  /** A connection must log in within this time, default 30 s. */
  loginGraceMs?: number;
  /** Offer files left in place (engine refused, or a crash) again this often, default 60 s. */
  rescanIntervalMs?: number;
  /** Open files and folders per user, default `MAX_OPEN_HANDLES_PER_USER` (256). */
  maxOpenHandlesPerUser?: number;
  /** Open files and folders in all, default `MAX_OPEN_HANDLES` (1,024 or half the fd limit). */
  maxOpenHandles?: number;
  /** Characters of names one user's open listings hold, default `MAX_LISTED_CHARS_PER_USER`. */
  maxListedCharsPerUser?: number;
  /** See {@link IDLE_TIMEOUT_MS} (the default). */
  idleTimeoutMs?: number;
  /** How often the accept queue is read (`transports/net/accept_watch.ts`), 5 s. */
  acceptWatchIntervalMs?: number;
  /** Entries one rescan looks at per user, default `MAX_RESCAN_ENTRIES` (`uploads.ts`). */
  maxRescanEntries?: number;
  /**
   * Times the idle close, the lockout after failed logins and the refusal log's minute, all on its
   * monotonic reading (a wall-clock step neither ends nor stretches them); the system clock by
   * default.
   */
  clock?: Clock;
}

/**
 * Where the markers of files stored but not archived are kept, under `root`: a name no user can
 * have (user names start with a letter or a digit).
 */
const PENDING_FOLDER = ".archive-pending";

/** Sessions (channels) one connection may open; each SFTP session may hold 64 open files. */
const MAX_SESSIONS = 4;

/**
 * A logged-in connection that holds open files or folders but sends no request for 10 minutes is
 * closed: a working client sends a request at least every few seconds while it transfers (and
 * closes what it opened), so one that holds files that long is stuck or keeping them on purpose.
 * An idle connection that holds nothing stays open (keepalives tell a dead peer).
 */
export const IDLE_TIMEOUT_MS = 10 * 60_000;

interface Connection extends LoginState {
  socket: Socket;
  closed: Promise<void>;
  grace?: ReturnType<typeof setTimeout>;
  client?: ssh2.Connection;
  authenticated: boolean;
  sessions: FolderSftpSession[];
  /** When the last SFTP request came (`Clock.monotonic()`). */
  lastRequest: number;
  /** Uploads cut off by its sessions, logged in one line. */
  interrupted: InterruptedLog;
  /** What it showed of itself before logging in (logged if it closes before offering a key). */
  opening: ClientOpening;
  /** Its sessions whose backlog is full: the socket is not read while there are any. */
  backlogged: number;
}

/** See the module doc. */
export class HostedSftpServer {
  readonly #options: HostedSftpServerOptions;
  readonly #users: UserDirectory;
  readonly #limits: AddressLimits;
  /** The total cap, counted at accept. */
  readonly #caps: ConnectionCaps;
  /** `sftp-server.ssh-error` lines, per address and kind of error. */
  readonly #sshErrors: LogThrottle;
  /** `sftp-server.login-failed` lines of an address already locked out. */
  readonly #lateFailures: LogThrottle;
  /** `sftp-server.closed-before-login` lines. */
  readonly #preLogin: PreLoginLog;
  readonly #desk: UploadDesk;
  readonly #handleLimits: HandleLimits;
  readonly #jails = new Map<string, FolderJail>();
  readonly #connections = new Map<string, Connection>();
  /** Sessions not yet settled (ended and done with what they started). */
  readonly #sessions = new Set<FolderSftpSession>();
  /** Address and cause of refusals logged in the last minute, with how many were not logged. */
  readonly #refusals = new Map<string, { at: number; suppressed: number }>();
  readonly #ssh: ssh2.Server;
  readonly #net: NetServer;
  #rescanTimer: ReturnType<typeof setInterval> | undefined;
  /** Aborted by {@link stop}: ends the idle check's sleep. */
  readonly #idleStop = new AbortController();
  readonly #clock: Clock;
  #rescanning: Promise<void> | undefined;
  #acceptWatch: AcceptWatch | undefined;
  #stopped = false;
  /** The host key's fingerprint, for counterparties to pin. */
  readonly hostKeyFingerprint: string;
  /** The port listened on. */
  port = 0;

  private constructor(
    options: HostedSftpServerOptions,
    root: string,
    pending: ArchivePending,
    halfFdLimit: number,
  ) {
    this.#options = options;
    const clock = (this.#clock = options.clock ?? systemClock);
    const hostKey = ssh2.utils.parseKey(options.hostKey);
    const key = Array.isArray(hostKey) ? hostKey[0] : hostKey;
    if (!key || key instanceof Error || !key.isPrivateKey()) {
      const why = key instanceof Error ? key.message : "not a private key";
      throw new Error(`sftpServer.hostKey: cannot use it as a host key (${why})`);
    }
    this.hostKeyFingerprint = sshFingerprint(key.getPublicSSH());
    this.#users = new UserDirectory(options.users);
    for (const user of this.#users.all) {
      this.#jails.set(user.name, new FolderJail(join(root, user.name)));
    }
    this.#limits = new AddressLimits({
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      maxFailedLoginsPerIp: options.maxFailedLoginsPerIp,
      monotonic: () => clock.monotonic(),
      ...(options.lockoutMs !== undefined ? { lockoutMs: options.lockoutMs } : {}),
    });
    const monotonic = () => clock.monotonic();
    this.#caps = new ConnectionCaps({
      log: options.log,
      event: "sftp.connection-refused",
      maxConnections: options.maxConnections ?? MAX_SFTP_CONNECTIONS,
      totalReason: "too many SFTP connections open on this server; raise " +
        "limits.maxSftpConnections if counterparties need more at once",
      monotonic,
    });
    this.#sshErrors = new LogThrottle(REFUSAL_LOG_INTERVAL_MS, monotonic);
    this.#lateFailures = new LogThrottle(REFUSAL_LOG_INTERVAL_MS, monotonic);
    this.#preLogin = new PreLoginLog({ log: options.log, now: monotonic, hostKey: key });
    this.#desk = new UploadDesk({
      onUpload: options.onUpload,
      holdBack: options.holdBack,
      maxFileBytes: options.maxFileBytes,
      log: options.log,
      pending,
      ...(options.maxRescanEntries ? { maxRescanEntries: options.maxRescanEntries } : {}),
    });
    this.#handleLimits = new HandleLimits({
      ...(options.maxOpenHandlesPerUser ? { maxPerUser: options.maxOpenHandlesPerUser } : {}),
      ...(options.maxOpenHandles ? { maxTotal: options.maxOpenHandles } : {}),
      ...(options.maxListedCharsPerUser ? { maxListedPerUser: options.maxListedCharsPerUser } : {}),
      halfFdLimit,
      log: options.log,
    });
    this.#ssh = new ssh2.Server({
      hostKeys: [options.hostKey],
      algorithms: MODERN_ALGORITHMS,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
    }, (client, info) => this.#onClient(client, info));
    this.#net = createServer((socket) => this.#onSocket(socket));
  }

  /** Makes the users' folders, listens, and offers files left from before. */
  static async start(options: HostedSftpServerOptions): Promise<HostedSftpServer> {
    await Deno.mkdir(options.root, { recursive: true, mode: 0o750 });
    const root = await Deno.realPath(options.root);
    const pending = await ArchivePending.load(join(root, PENDING_FOLDER), options.log);
    if (pending.size > 0) {
      options.log.info("sftp-server.archive-pending", {
        files: pending.size,
        reason: "stored but not yet moved to archive/; the rescans try again",
      });
    }
    const server = new HostedSftpServer(options, root, pending, await halfTheFdLimit());
    for (const user of server.#users.all) {
      for (const sub of ["", ...RESERVED]) {
        await Deno.mkdir(join(root, user.name, sub), { recursive: true, mode: 0o750 });
      }
    }
    await new Promise<void>((resolve, reject) => {
      server.#net.once("error", reject);
      server.#net.listen(options.port, options.hostname, () => {
        server.#net.off("error", reject);
        resolve();
      });
    });
    server.#net.on("error", (error) => options.log.error("sftp-server.error", { error }));
    const address = server.#net.address();
    server.port = typeof address === "object" && address ? address.port : options.port;
    // Deno's node:net stops accepting for good after one failed accept (out of descriptors).
    server.#acceptWatch = watchAccepts({
      server: server.#net,
      hostname: options.hostname,
      port: server.port,
      name: "sftp-server",
      log: options.log,
      intervalMs: options.acceptWatchIntervalMs,
      clock: server.#clock,
    });
    options.log.info("sftp-server.listening", {
      hostname: options.hostname,
      port: server.port,
      hostKey: server.hostKeyFingerprint,
      users: server.#users.all.length,
      maxConnections: server.#caps.maxConnections,
      maxOpenHandles: server.#handleLimits.maxTotal,
      maxOpenHandlesPerUser: server.#handleLimits.maxPerUser,
    });
    // Waits until the first rescan has listed the folders (the files it offers are those there now).
    await new Promise<void>((listed) => server.#rescan(listed));
    const every = options.rescanIntervalMs ?? 60_000;
    if (every > 0) server.#rescanTimer = setInterval(() => server.#rescan(), every);
    const idle = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    void server.#watchIdle(idle, Math.min(idle / 4, 30_000));
    return server;
  }

  /** Checks for idle connections every `everyMs` (on the clock) until {@link stop}. */
  async #watchIdle(idleMs: number, everyMs: number): Promise<void> {
    const signal = this.#idleStop.signal;
    while (!signal.aborted) {
      await this.#clock.sleep(everyMs, signal);
      if (!signal.aborted) this.#closeIdle(idleMs);
    }
  }

  /** The folder on disk where the engine puts files for `user` to download. */
  outbox(user: string): string {
    const jail = this.#jails.get(user);
    if (!jail) throw new Error(`no hosted SFTP user ${JSON.stringify(user)}`);
    return join(jail.home, "outbox");
  }

  /** For the admin endpoint: where it listens, its host key, users with key fingerprints. */
  describe(): Record<string, unknown> {
    return {
      port: this.port,
      hostKeyFingerprint: this.hostKeyFingerprint,
      users: this.#users.all.map((u) => ({
        name: u.name,
        integration: u.integration,
        keys: u.keys.map((k) => k.fingerprint),
      })),
      connections: this.connections(),
    };
  }

  /** Connections open now, by address. */
  connections(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.#connections.values()) out[c.ip] = (out[c.ip] ?? 0) + 1;
    return out;
  }

  /** Runs a rescan unless one is under way; resolves when the current one ends. */
  rescan(): Promise<void> {
    this.#rescan();
    return this.#rescanning ?? Promise.resolve();
  }

  /** Closes logged-in connections that hold open handles but sent no request for `idleMs`. */
  #closeIdle(idleMs: number): void {
    const now = this.#clock.monotonic();
    for (const c of this.#connections.values()) {
      const handles = c.sessions.reduce((n, s) => n + s.openHandles, 0);
      if (!c.authenticated || handles === 0 || now - c.lastRequest < idleMs) continue;
      this.#options.log.warn("sftp-server.idle-closed", {
        user: c.user,
        peer: c.ip,
        handles,
        reason: `no request for ${
          Math.round((now - c.lastRequest) / 1000)
        } s while holding ${handles} open files or folders; connection closed`,
      });
      c.lastRequest = Infinity; // logged once
      c.socket.destroy();
    }
  }

  /** Starts a rescan unless one is under way; `listed` is called once it has listed the folders. */
  #rescan(listed?: () => void): void {
    if (this.#rescanning || this.#stopped) return listed?.();
    const users = this.#users.all.map((user) => ({ user, jail: this.#jails.get(user.name)! }));
    this.#rescanning = this.#desk.rescan(users, listed)
      .catch((error) => this.#options.log.error("sftp-server.rescan-failed", { error }))
      .finally(() => (this.#rescanning = undefined));
  }

  /** Stops listening, drops every connection (uploads under way are discarded) and waits. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#acceptWatch?.stop();
    clearInterval(this.#rescanTimer);
    this.#idleStop.abort();
    const closing = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    for (const c of this.#connections.values()) {
      for (const s of c.sessions) s.end();
      c.socket.destroy();
    }
    await Promise.all([closing, ...[...this.#connections.values()].map((c) => c.closed)]);
    // Writes being served, uploads discarded and take-ins under way finish first.
    await Promise.all([...this.#sessions].map((s) => s.settled()));
    await this.#rescanning;
  }

  #onSocket(socket: Socket): void {
    const ip = socket.remoteAddress ?? "?";
    const key = `${ip}|${socket.remotePort}`;
    if (this.#stopped) return void socket.destroy();
    // Past the total cap: closed before ssh2 sees it (no banner, no key exchange); logged.
    if (!this.#caps.admit(ip)) return void socket.destroy();
    const admission = this.#limits.admit(ip);
    if (!admission.ok) {
      this.#caps.release(ip);
      this.#logRefusal(ip, admission.kind, admission.reason);
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const conn: Connection = {
      ip,
      interrupted: new InterruptedLog(this.#options.log, ip, () => conn.user),
      opening: new ClientOpening(),
      socket,
      closed: new Promise((resolve) => socket.once("close", () => resolve())),
      authenticated: false,
      offeredCredentials: false,
      attempts: 0,
      sessions: [],
      lastRequest: this.#clock.monotonic(),
      backlogged: 0,
    };
    this.#connections.set(key, conn);
    const grace = this.#options.loginGraceMs ?? 30_000;
    conn.grace = setTimeout(() => {
      conn.lastRefusal = `no login within ${grace / 1000} s`;
      socket.destroy();
    }, grace);
    socket.on("error", () => {}); // reported through close; ssh2 logs protocol errors
    socket.once("close", () => this.#onClose(key, conn));
    this.#ssh.injectSocket(socket);
    conn.opening.watch(socket);
  }

  /** Logs a refused connection, at most once a minute per address and cause (a flood stays short). */
  #logRefusal(ip: string, kind: string, reason: string): void {
    const now = this.#clock.monotonic();
    const key = `${ip}|${kind}`;
    const seen = this.#refusals.get(key);
    if (seen && now - seen.at < 60_000) {
      seen.suppressed++;
      return;
    }
    for (const [k, v] of this.#refusals) if (now - v.at >= 60_000) this.#refusals.delete(k);
    this.#refusals.set(key, { at: now, suppressed: 0 });
    this.#options.log.warn("sftp-server.refused", {
      peer: ip,
      reason,
      ...(seen?.suppressed ? { notLoggedBefore: seen.suppressed } : {}),
    });
  }

  /**
   * A session's backlog filled (`full`) or drained: the connection's socket is not read while any
   * of its sessions is full, so the client waits (TCP flow control) instead of the engine
   * buffering its requests.
   */
  #backlog(conn: Connection, full: boolean): void {
    const before = conn.backlogged;
    conn.backlogged = Math.max(0, before + (full ? 1 : -1));
    if (before === 0 && conn.backlogged > 0) {
      conn.socket.pause();
      this.#options.log.debug("sftp-server.backlog-full", { user: conn.user, peer: conn.ip });
    } else if (before > 0 && conn.backlogged === 0) conn.socket.resume();
  }

  #onClose(key: string, conn: Connection): void {
    clearTimeout(conn.grace);
    this.#limits.closed(conn.ip);
    this.#caps.release(conn.ip);
    for (const s of conn.sessions) s.end();
    conn.interrupted.flush();
    // Listed until what its sessions were writing is done and their cut-off uploads are removed.
    Promise.all(conn.sessions.map((s) => s.drained()))
      .finally(() => this.#connections.delete(key));
    if (conn.authenticated) {
      this.#options.log.debug("sftp-server.disconnected", { user: conn.user, peer: conn.ip });
      return;
    }
    if (!conn.offeredCredentials) {
      if (this.#stopped) return;
      return this.#preLogin.closed(conn);
    }
    const failures = this.#limits.failed(conn.ip);
    const limit = this.#options.maxFailedLoginsPerIp;
    // Up to the lockout each failure has its line; beyond it (connections opened before it), one
    // per address every 5 s: `failures` counts them all.
    if (failures > limit && this.#lateFailures.note(conn.ip) === 0) return;
    this.#options.log.warn("sftp-server.login-failed", {
      peer: conn.ip,
      user: conn.user,
      reason: conn.lastRefusal,
      failures,
      limit,
      ...(failures >= limit ? { locked: true } : {}),
    });
  }

  #onClient(client: ssh2.Connection, info: ssh2.ClientInfo): void {
    const conn = this.#connections.get(`${info.ip}|${info.port}`);
    if (!conn) return void client.end();
    conn.client = client;
    client.on("error", (error: Error & { level?: unknown }) => {
      conn.opening.noteError(error);
      // A failed key exchange, a reset, a protocol error: one line per address and kind (ssh2's
      // `level`: a fixed set) every 5 s, with how many it stands for.
      const errors = this.#sshErrors.note(`${conn.ip}|${String(error.level)}`);
      if (errors > 0) {
        this.#options.log.debug("sftp-server.ssh-error", { peer: conn.ip, error, errors });
      }
    });
    client.on("handshake", (negotiated) => {
      conn.opening.handshake = true;
      // ssh2 always offers `ssh-rsa` with an RSA host key; a client that picks it gets no further.
      if (negotiated.serverHostKey === "ssh-rsa") {
        this.#logRefusal(
          conn.ip,
          "sha1-host-key",
          "the client chose SHA-1 (ssh-rsa) host key signatures; rsa-sha2-256/512 required",
        );
        conn.opening.logged = true;
        client.end();
      }
    });
    client.on(
      "authentication",
      (ctx) => authenticate(this.#users, conn, ctx, this.#options.log, () => conn.socket.destroy()),
    );
    client.on("ready", () => {
      conn.authenticated = true;
      clearTimeout(conn.grace);
      this.#limits.succeeded(conn.ip);
    });
    let sessions = 0;
    client.on("session", (accept, reject) => {
      if (++sessions > MAX_SESSIONS) return reject();
      const session = accept();
      session.on("sftp", (acceptSftp) => {
        const user = conn.user ? this.#users.get(conn.user) : undefined;
        if (!user) return;
        const folder = new FolderSftpSession({
          sftp: acceptSftp(),
          user,
          jail: this.#jails.get(user.name)!,
          desk: this.#desk,
          limits: this.#handleLimits,
          peer: conn.ip,
          maxFileBytes: this.#options.maxFileBytes,
          log: this.#options.log,
          onRequest: () => (conn.lastRequest = this.#clock.monotonic()),
          onInterrupted: (uploads) => conn.interrupted.add(uploads),
          onBacklog: (full) => this.#backlog(conn, full),
        });
        conn.sessions.push(folder);
        this.#sessions.add(folder);
        folder.settled().finally(() => this.#sessions.delete(folder));
      });
    });
  }
}
