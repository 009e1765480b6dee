/**
 * A busy feed beside a large message: one small ADT every 10 ms on a raw MLLP connection, each ACK
 * awaited and checked, until stopped. The thread-hold tests check that the engine kept
 * acknowledging it while it took the large one.
 * @module
 */

import assert from "node:assert/strict";
import { adt } from "./net.ts";
import { type RawMllpSender, summarizeAck } from "./raw_sender.ts";

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
