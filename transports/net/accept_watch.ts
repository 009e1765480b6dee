/**
 * Keeps a `node:net` listener taking connections. In Deno 2.9.6 a `node:net` server — and so
 * `node:http`, `node:https`, `node:tls` and the hosted SFTP server built on them — whose accept
 * fails once (the process out of file descriptors: EMFILE) never accepts again, and says nothing:
 * the port stays bound, the kernel queues connections, nobody takes them, and `/healthz` is one of
 * the routes that went dead. (The plain MLLP listeners run their own accept loop with a backoff.)
 *
 * The watch reads the kernel's accept queue of the listening socket every interval (Linux:
 * `/proc/net/tcp` and `/proc/net/tcp6`). Connections waiting at two checks in a row, with none
 * taken by the server between them, mean its accept loop is dead: the watch then closes the
 * listening socket and listens again on the same address (connections already open are kept, and
 * the server's `close` event does not fire), with one `ERROR <name>.accept-stalled` line naming
 * how many connections were waiting and how many files the process holds against its limit.
 * Until the listener is back (a new socket needs a free descriptor too) it tries again at each
 * check, at intervals doubling up to a minute. Where `/proc` is missing the watch does nothing.
 * How long the listener was stalled (`stalledMs` on `<name>.accept-restored`) is measured on the
 * monotonic clock: a wall-clock step meanwhile is not counted in it.
 * @module
 */

import type { Server } from "node:net";
import type { Clock, Logger } from "../../actors/ports.ts";
import { errorMessage, systemClock } from "../../actors/mod.ts";

/** How often the accept queue is read by default. */
export const ACCEPT_WATCH_INTERVAL_MS = 5_000;
/** The longest wait between two attempts to listen again while they fail. */
const MAX_RETRY_INTERVAL_MS = 60_000;

/** What {@link watchAccepts} needs. */
export interface AcceptWatchOptions {
  /** The listening server (`http.Server`, `https.Server`, `tls.Server` and `net.Server` all are). */
  server: Server;
  /** The address it listens on (listening again binds the same). */
  hostname: string;
  port: number;
  /** Log events are `<name>.accept-stalled` and `<name>.accept-restored`: `http`, `sftp-server`… */
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
  const acceptQueue = options.acceptQueue ?? kernelAcceptQueue;
  const clock = options.clock ?? systemClock;
  let taken = 0;
  let waitingBefore = 0;
  let restarts = 0;
  let stalledSince: number | undefined;
  let delay = interval;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const onConnection = () => taken++;
  server.on("connection", onConnection);

  const relisten = (waiting: number) => {
    const handle = (server as unknown as { _handle?: { close(): void } | null })._handle;
    if (stalledSince === undefined) {
      stalledSince = clock.monotonic();
      log.error(`${name}.accept-stalled`, {
        port,
        waiting,
        ...openFiles(),
        reason: "the listener stopped taking connections (an accept failed, e.g. the process " +
          "ran out of file descriptors); listening again",
      });
    }
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

  const check = () => {
    timer = undefined;
    if (stopped) return;
    const waiting = acceptQueue(port);
    if (waiting === null) return schedule(); // unreadable this time (out of descriptors itself)
    if (waiting === undefined) return; // no /proc: nothing to read, so nothing to watch
    const listening = (server as unknown as { _handle?: unknown })._handle != null;
    if (stalledSince !== undefined && !listening) {
      relisten(waiting); // the last attempt to listen again failed: try again
      delay = Math.min(delay * 2, MAX_RETRY_INTERVAL_MS);
    } else if (waiting > 0 && waitingBefore > 0 && taken === 0) {
      relisten(waiting);
      delay = Math.min(delay * 2, MAX_RETRY_INTERVAL_MS);
    }
    waitingBefore = waiting;
    taken = 0;
    schedule();
  };
  const schedule = () => {
    if (stopped) return;
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

/**
 * Connections waiting in the accept queue of the socket listening on `port` (any address), read
 * from `/proc/net/tcp` and `/proc/net/tcp6`; undefined where neither exists, null when they could
 * not be read (the process out of file descriptors, say).
 */
export function kernelAcceptQueue(port: number): number | undefined | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let found = false;
  let waiting = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      return null;
    }
    found = true;
    for (const line of text.split("\n")) {
      // "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 …": local, remote, state, tx:rx.
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== "0A" || !fields[1]?.endsWith(`:${hexPort}`)) continue; // 0A: LISTEN
      const rx = fields[4]?.split(":")[1];
      if (rx) waiting += parseInt(rx, 16) || 0;
    }
  }
  return found ? waiting : undefined;
}

/** The process's open files and its limit, for the log line (empty where unknown). */
function openFiles(): { openFiles?: number; fileLimit?: number } {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = limits.match(/^Max open files\s+(\d+)/m)?.[1];
    return { openFiles: n, ...(soft ? { fileLimit: Number(soft) } : {}) };
  } catch {
    return {};
  }
}
