/**
 * The accept loop of an MLLP listener. An error accepting one connection (a peer that reset
 * before it was accepted: ENOTCONN, ECONNABORTED…) ends that connection only; running out of file
 * descriptors (EMFILE, ENFILE) or any other error pauses briefly (50 ms, doubling to 1 s) and
 * tries again. Only closing the listener ends the loop, or the listener itself going away.
 * @module
 */

import type { Clock, Logger } from "../../actors/ports.ts";
import { errorMessage, systemClock } from "../../actors/mod.ts";
import type { ByteConn, ByteListener } from "./node_tls.ts";
import { LogThrottle } from "../../actors/mod.ts";

/** Options for {@link startAcceptLoop}. */
export interface AcceptLoopOptions {
  listener: ByteListener;
  /** The bound port, for log lines. */
  port: number;
  log: Logger;
  /** Takes each accepted connection; must not throw (a throw is logged and the loop goes on). */
  onConnection(conn: ByteConn): void;
  clock?: Clock;
}

/** A running accept loop. */
export interface AcceptLoop {
  /** True while the loop runs and is not pausing after an error. */
  readonly accepting: boolean;
  /** Stops the loop (the listener is closed by whoever owns it) and waits for it to end. */
  stop(): Promise<void>;
}

/** Errors that concern one connection only: the next accept is fine. */
const PER_CONNECTION = [
  Deno.errors.NotConnected,
  Deno.errors.ConnectionAborted,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionRefused,
  Deno.errors.BrokenPipe,
  Deno.errors.TimedOut,
  Deno.errors.Interrupted,
  Deno.errors.InvalidData,
];

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1_000;

/** Starts accepting; see the module doc. */
export function startAcceptLoop(options: AcceptLoopOptions): AcceptLoop {
  const { listener, port, log } = options;
  const clock = options.clock ?? systemClock;
  const stopping = new AbortController();
  const throttle = new LogThrottle(5_000, () => clock.now());
  let accepting = true;
  let backoffMs = MIN_BACKOFF_MS;

  const run = async () => {
    while (!stopping.signal.aborted) {
      let conn: ByteConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping.signal.aborted) break;
        if (error instanceof Deno.errors.BadResource) {
          // The listener is gone without close(): nothing more can be accepted.
          log.error("mllp.listener-failed", { port, reason: errorMessage(error) });
          break;
        }
        if (PER_CONNECTION.some((kind) => error instanceof kind)) {
          const count = throttle.note((error as Error).name);
          if (count > 0) {
            log.warn("mllp.accept-error", { port, reason: errorMessage(error), count });
          }
          continue;
        }
        // Out of descriptors (or something unknown): retrying at once would spin.
        accepting = false;
        const count = throttle.note(`backoff:${errorMessage(error)}`);
        if (count > 0) {
          log.warn("mllp.accept-backoff", { port, reason: errorMessage(error), backoffMs, count });
        }
        await clock.sleep(backoffMs, stopping.signal);
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
        if (!stopping.signal.aborted) accepting = true;
        continue;
      }
      backoffMs = MIN_BACKOFF_MS;
      try {
        options.onConnection(conn);
      } catch (error) {
        log.warn("mllp.connection-error", { port, reason: errorMessage(error) });
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    }
    accepting = false;
  };
  const done = run().catch((error) => {
    // Not expected: run() catches what it awaits. Logged so the listener never fails silently.
    accepting = false;
    log.error("mllp.listener-failed", { port, reason: errorMessage(error) });
  });
  return {
    get accepting() {
      return accepting;
    },
    async stop() {
      stopping.abort();
      accepting = false;
      await done;
    },
  };
}
