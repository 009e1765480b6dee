/**
 * The supervisor's background loops (see `supervisor.ts`: lease renewal, fencing, polling for
 * queues, membership): a function run every so often on a clock until the supervisor stops,
 * told how late its timer fired, its failures reported and never ending the loop.
 * @module
 */

import type { Clock } from "./clock.ts";

/** How {@link runEvery} runs. */
export interface LoopOptions {
  /** Ends the loop (checked before each sleep and after it). */
  signal: AbortSignal;
  /** The pause between two runs, in ms. */
  everyMs: number;
  /** The clock slept on and timed with. */
  clock: Clock;
  /** Learns when each wake-up is due (by `clock.monotonic()`), before the sleep. */
  onSleep?: (due: number) => void;
  /** Told of a run that failed; the loop goes on. */
  onError: (error: unknown) => void;
}

/**
 * Runs `fn` every `options.everyMs` on `options.clock` until `options.signal` aborts, telling it
 * how late its timer fired (ms).
 */
export async function runEvery(
  options: LoopOptions,
  fn: (lateMs: number) => Promise<void>,
): Promise<void> {
  const { signal, everyMs, clock, onSleep, onError } = options;
  while (!signal.aborted) {
    const due = clock.monotonic() + everyMs;
    onSleep?.(due);
    await clock.sleep(everyMs, signal);
    if (signal.aborted) break;
    try {
      await fn(Math.max(0, clock.monotonic() - due));
    } catch (error) {
      onError(error);
    }
  }
}
