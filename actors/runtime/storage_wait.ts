/**
 * Waiting for KV to take writes again: what an actor does instead of crashing (or spinning) while
 * the disk is full. It probes the store's health with a backoff, so a store nobody writes to
 * still learns that space came back.
 * @module
 */

import type { StoreHealth } from "../store/health.ts";
import type { Clock } from "./clock.ts";

/** Backoff bounds of {@link waitWritable}, in ms. */
export interface StorageWaitOptions {
  /** First wait, default 250 ms (doubled each time). */
  firstMs?: number;
  /** Longest wait, default 5 s: how long a delivery may stay paused after space returns. */
  maxMs?: number;
}

/** Resolves once `health` is writable again, or when `signal` aborts. */
export async function waitWritable(
  health: StoreHealth,
  clock: Clock,
  signal: AbortSignal,
  options: StorageWaitOptions = {},
): Promise<void> {
  let delay = options.firstMs ?? 250;
  const max = options.maxMs ?? 5_000;
  while (!signal.aborted && !(await health.check()).writable) {
    await clock.sleep(delay, signal);
    delay = Math.min(max, delay * 2);
  }
}
