/**
 * Keeps a `node:net` listener taking connections. In Deno 2.9.6 a `node:net` server — and so
 * `node:http`, `node:https`, `node:tls` and the hosted SFTP server built on them — whose accept
 * fails once (the process out of file descriptors: EMFILE) never accepts again, and says nothing:
 * the port stays bound, the kernel queues connections, nobody takes them, and `/healthz` is one of
 * the routes that went dead. (The plain MLLP listeners run their own accept loop with a backoff.)
 *
 * The watch reads the kernel's accept queue of the listening socket every interval (Linux:
 * `/proc/net/tcp` or `/proc/net/tcp6`, only as far as the listening sockets: `proc_net_tcp.ts`). Connections waiting at two checks in a row, with none
 * taken by the server between them, are what a dead accept loop looks like, and also what an
 * event loop too busy to take them looks like; the watch tells them apart:
 * - the accept loop is taken for dead when, since the server last took a connection, the process
 *   was seen out of file descriptors (at least 90 % of its soft limit open, or
 *   too few left to read the queue or count them), or when the connections keep waiting through
 *   {@link DEAD_AFTER_ON_TIME_CHECKS} checks that all ran on time (the event loop free, the
 *   accepts still not coming). The watch then closes the listening socket and listens again on
 *   the same address (connections already open are kept, and the server's `close` event does not
 *   fire; connections waiting in the old socket's queue are reset), with one
 *   `ERROR <name>.accept-stalled` line naming how many connections were waiting and how many files
 *   the process holds against its limit. Until the listener is back (a new socket needs a free
 *   descriptor too) it tries again at each check, at intervals doubling up to a minute.
 * - otherwise (the check's own timer ran late: the event loop was blocked; or descriptors are
 *   plentiful) the socket is left alone, and a `WARN <name>.accept-slow` line (at most one a
 *   minute) says how late the check ran and how many connections wait.
 *
 * Where `/proc` is missing the watch does nothing. How long the listener was stalled (`stalledMs`
 * on `<name>.accept-restored`) is measured on the monotonic clock: a wall-clock step meanwhile is
 * not counted in it.
 * @module
 */

import type { Server } from "node:net";
import type { Clock, Logger } from "../../actors/ports.ts";
import { errorMessage, systemClock } from "../../actors/mod.ts";
import { kernelAcceptQueue, procNetTcpFor } from "./proc_net_tcp.ts";
import {
  type FileUse,
  fileUseFields,
  fileUseText,
  nearFileLimit,
  readOpenFiles,
} from "./open_files.ts";

/** How often the accept queue is read by default. */
export const ACCEPT_WATCH_INTERVAL_MS = 5_000;
/** The longest wait between two attempts to listen again while they fail. */
const MAX_RETRY_INTERVAL_MS = 60_000;
/**
 * Checks in a row, each on time, that find connections waiting and none taken, after which the
 * accept loop is taken for dead without having seen the process out of descriptors (it may have
 * run out and recovered between two checks).
 */
export const DEAD_AFTER_ON_TIME_CHECKS = 6;
/**
 * A check that runs this much later than asked (and at least half the interval) found the event
 * loop blocked.
 */
const LATE_MIN_MS = 100;
/** At most one `<name>.accept-slow` line this often. */
const SLOW_LOG_EVERY_MS = 60_000;

/** What {@link watchAccepts} needs. */
export interface AcceptWatchOptions {
  /** The listening server (`http.Server`, `https.Server`, `tls.Server` and `net.Server` all are). */
  server: Server;
  /** The address it listens on (listening again binds the same). */
  hostname: string;
  port: number;
  /**
   * Log events are `<name>.accept-stalled`, `<name>.accept-restored` and `<name>.accept-slow`:
   * `http`, `sftp-server`…
   */
  name: string;
  log: Logger;
  /** Between two reads of the accept queue, default {@link ACCEPT_WATCH_INTERVAL_MS}. */
  intervalMs?: number;
  /**
   * The number of connections waiting in the kernel's accept queue of the socket listening on
   * `port`: undefined where that cannot be known (the watch stops), null when it could not be read
   * this time; default {@link kernelAcceptQueue}.
   */
  acceptQueue?: (port: number) => number | undefined | null;
  /** The process's open files against its limit; default {@link readOpenFiles}. */
  openFiles?: () => FileUse | undefined;
  /**
   * Monotonic milliseconds the watch's own timer is timed on (a check that runs late found the
   * event loop blocked); default `performance.now`.
   */
  elapsed?: () => number;
  /** Times a stall (its monotonic reading); the system clock by default. */
  clock?: Clock;
}

/** A running watch. */
export interface AcceptWatch {
  /** How many times the listener was found stalled and listened again. */
  readonly restarts: number;
  /** Stops watching (call before closing the server). */
  stop(): void;
}

/**
 * Watches `options.server` (already listening) as the module doc says.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * const server = createServer((_req, res) => res.end("ok"));
 * server.listen(8080, "127.0.0.1");
 * const watch = watchAccepts({ server, hostname: "127.0.0.1", port: 8080, name: "http", log });
 * // on shutdown:
 * watch.stop();
 * server.close();
 * ```
 */
export function watchAccepts(options: AcceptWatchOptions): AcceptWatch {
  const { server, hostname, port, name, log } = options;
  const interval = options.intervalMs ?? ACCEPT_WATCH_INTERVAL_MS;
  const files = procNetTcpFor(hostname);
  const acceptQueue = options.acceptQueue ?? ((p: number) => kernelAcceptQueue(p, files));
  const openFiles = options.openFiles ?? readOpenFiles;
  const elapsed = options.elapsed ?? (() => performance.now());
  const clock = options.clock ?? systemClock;
  /** Connections taken since the last check that read the queue; since the start. */
  let taken = 0;
  let accepted = 0;
  let waitingBefore = 0;
  let restarts = 0;
  let stalledSince: number | undefined;
  let delay = interval;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending check should run, by `elapsed`. */
  let dueAt = 0;
  let stopped = false;
  /** The process seen out of descriptors since the server last took a connection, and when. */
  let outOfFiles: FileUse | undefined;
  let acceptedWhenOut = 0;
  /** Checks in a row, on time, finding connections waiting and none taken. */
  let onTimeStalls = 0;
  let slowLoggedAt: number | undefined;
  let slowUnlogged = 0;
  openFiles(); // learns the limit while a descriptor is free to read it
  const onConnection = () => {
    taken++;
    accepted++;
  };
  /** Notes a reading of the process out of descriptors. */
  const noteFiles = (use: FileUse | undefined) => {
    if (!nearFileLimit(use)) return;
    outOfFiles = use;
    acceptedWhenOut = accepted;
  };
  server.on("connection", onConnection);

  const relisten = (waiting: number, why: string) => {
    const handle = (server as unknown as { _handle?: { close(): void } | null })._handle;
    if (stalledSince === undefined) {
      stalledSince = clock.monotonic();
      log.error(`${name}.accept-stalled`, {
        port,
        waiting,
        ...fileUseFields(openFiles()),
        reason: `the listener stopped taking connections (${why}); listening again`,
      });
    }
    outOfFiles = undefined;
    onTimeStalls = 0;
    try {
      if (handle) {
        handle.close();
        (server as unknown as { _handle: null })._handle = null;
      }
      server.listen(port, hostname, () => {
        restarts++;
        log.warn(`${name}.accept-restored`, {
          port,
          stalledMs: Math.round(clock.monotonic() - (stalledSince ?? clock.monotonic())),
        });
        stalledSince = undefined;
        delay = interval;
      });
    } catch (error) {
      // A failed listen also reaches the server's own `error` listener; the next check retries.
      log.error(`${name}.accept-stalled`, {
        port,
        reason: `listening again failed: ${errorMessage(error)}`,
      });
    }
  };

  /** Connections wait and the accept loop is not taken for dead: said, at most once a minute. */
  const slow = (waiting: number, lateMs: number, late: boolean, use: FileUse | undefined) => {
    const now = elapsed();
    if (slowLoggedAt !== undefined && now - slowLoggedAt < SLOW_LOG_EVERY_MS) {
      slowUnlogged++;
      return;
    }
    const why = late
      ? `the event loop is busy: this check ran ${lateMs} ms late`
      : `the process has file descriptors to spare${use ? ` (${fileUseText(use)})` : ""}, so ` +
        `the event loop is taken to be busy`;
    log.warn(`${name}.accept-slow`, {
      port,
      waiting,
      lateMs,
      ...fileUseFields(use),
      ...(slowUnlogged > 0 ? { notLogged: slowUnlogged } : {}),
      reason: `connections wait and none was taken since the last check: ${why}; the listener ` +
        `is left alone`,
    });
    slowLoggedAt = now;
    slowUnlogged = 0;
  };

  const check = () => {
    timer = undefined;
    if (stopped) return;
    const lateMs = Math.max(0, Math.round(elapsed() - dueAt));
    const late = lateMs >= Math.max(LATE_MIN_MS, interval / 2);
    const waiting = acceptQueue(port);
    if (waiting === undefined) return; // no /proc: nothing to read, so nothing to watch
    if (waiting === null) {
      noteFiles(openFiles()); // unreadable this time: out of descriptors itself, most likely
      return schedule();
    }
    // The server took a connection since the process was seen out of descriptors (or none
    // waits): its accept loop lived through it.
    if (waiting === 0 || accepted > acceptedWhenOut) outOfFiles = undefined;
    if (waiting === 0 || taken > 0) onTimeStalls = 0;
    const use = waiting > 0 ? openFiles() : undefined;
    noteFiles(use);
    const listening = (server as unknown as { _handle?: unknown })._handle != null;
    if (stalledSince !== undefined && !listening) {
      relisten(waiting, "listening again failed before"); // the last attempt failed: again
      delay = Math.min(delay * 2, MAX_RETRY_INTERVAL_MS);
    } else if (waiting > 0 && waitingBefore > 0 && taken === 0) {
      if (outOfFiles) {
        relisten(
          waiting,
          `an accept failed: the process was out of file descriptors, ` +
            `${fileUseText(outOfFiles)}`,
        );
        delay = Math.min(delay * 2, MAX_RETRY_INTERVAL_MS);
      } else if (late) {
        onTimeStalls = 0;
        slow(waiting, lateMs, true, use);
      } else if (++onTimeStalls >= DEAD_AFTER_ON_TIME_CHECKS) {
        relisten(
          waiting,
          `none taken through ${DEAD_AFTER_ON_TIME_CHECKS} checks that ran on time: an accept ` +
            `failed, e.g. the process ran out of file descriptors between two checks`,
        );
        delay = Math.min(delay * 2, MAX_RETRY_INTERVAL_MS);
      } else {
        slow(waiting, lateMs, false, use);
      }
    }
    waitingBefore = waiting;
    taken = 0;
    schedule();
  };
  const schedule = () => {
    if (stopped) return;
    dueAt = elapsed() + delay;
    const t = setTimeout(check, delay);
    Deno.unrefTimer(t);
    timer = t;
  };
  schedule();

  return {
    get restarts() {
      return restarts;
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      server.off("connection", onConnection);
    },
  };
}
