/**
 * A busy feed beside a large message: one small ADT every 10 ms on a raw MLLP connection, each ACK
 * awaited and checked, until stopped. The thread-hold tests check that the engine kept
 * acknowledging it while it took the large one.
 * @module
 */

import assert from "node:assert/strict";
import { adt } from "./net.ts";
import { type RawMllpSender, summarizeAck } from "./raw_sender.ts";
import { gapMonitor } from "./thread_hold.ts";

/** A running feed. */
export interface MllpTicker {
  /** Messages acknowledged so far. */
  readonly acked: number;
  /** Stops sending; resolves when the message in flight was answered, or throws its fault. */
  stop(): Promise<{ acked: number; worstAckMs: number }>;
}

/**
 * Sends `<prefix>-0`, `<prefix>-1`, ... on `sender`, one every 10 ms after each ACK (AA), at most
 * 100,000.
 *
 * @example
 * ```ts
 * const ticker = startMllpTicker(sender, "TICK1");
 * await postLargeMessage();
 * const during = ticker.acked;
 * const { worstAckMs } = await ticker.stop();
 * ```
 */
export function startMllpTicker(sender: RawMllpSender, prefix: string): MllpTicker {
  let running = true;
  let acked = 0;
  let worstAckMs = 0;
  const done = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const id = `${prefix}-${i}`;
      const sent = performance.now();
      const ack = summarizeAck(await sender.request(adt(id), 60_000));
      assert.equal(ack.code, "AA", id);
      worstAckMs = Math.max(worstAckMs, performance.now() - sent);
      acked++;
      // Paced: one small message every 10 ms, as a busy feed sends them.
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  // Its failure is thrown by stop().
  done.catch(() => {});
  return {
    get acked() {
      return acked;
    },
    async stop() {
      running = false;
      await done;
      return { acked, worstAckMs };
    },
  };
}

/** What {@link whileTicking} measured around the work. */
export interface Ticked<T> {
  /** What the work returned. */
  value: T;
  /** How long the work took, ms. */
  ms: number;
  /** The longest gap of a 10 ms timer meanwhile, and this thread's CPU in it (see gapMonitor). */
  gap: number;
  held: number;
  /** Feed messages acknowledged while the work ran, and the slowest ACK of the feed. */
  acked: number;
  worstAckMs: number;
}

/**
 * Runs `work` with a feed started on `sender` (messages `<prefix>-<n>`) and a watch of this
 * thread's timer around it; the feed's fault, if any, is thrown once the work is done. Both end
 * whether the work succeeds or not. One run of a thread-hold test's `assertHeldBelow`.
 *
 * @example
 * ```ts ignore
 * const t = await whileTicking(sender, `TICK${attempt}`, () => postLargeMessage());
 * return { held: t.held, detail: `${t.acked} acknowledged meanwhile` };
 * ```
 */
export async function whileTicking<T>(
  sender: RawMllpSender,
  prefix: string,
  work: () => Promise<T>,
): Promise<Ticked<T>> {
  const ticker = startMllpTicker(sender, prefix);
  const monitor = gapMonitor();
  let watched: { gap: number; held: number } | undefined;
  try {
    const started = performance.now();
    const value = await work();
    const ms = performance.now() - started;
    watched = monitor.stop();
    const acked = ticker.acked;
    const { worstAckMs } = await ticker.stop();
    return { value, ms, ...watched, acked, worstAckMs };
  } finally {
    // The work failed: its timer and feed end too (the work's error is the one thrown).
    if (!watched) monitor.stop();
    await ticker.stop().catch(() => {});
  }
}
