/**
 * Counting the sleeps begun on a manual clock: every loop's wake-up ends in one, so the count says
 * how often the loops on that clock woke.
 * @module
 */

import type { ManualClock } from "../../actors/runtime/clock.ts";

/** Counts the sleeps begun on `clock` from now on; returns the count so far. */
export function countSleeps(clock: ManualClock): () => number {
  let sleeps = 0;
  const sleep = clock.sleep.bind(clock);
  clock.sleep = (ms, signal) => {
    sleeps++;
    return sleep(ms, signal);
  };
  return () => sleeps;
}
