/**
 * The delivery retry schedule of DESIGN.md: immediately, then +10 s, +10 s, 20, 30, 50, 80, 120 s,
 * then every 120 s.
 * @module
 */

const SCHEDULE_S = [0, 10, 10, 20, 30, 50, 80, 120];

/** Delay in ms before the retry that follows the `failures`-th consecutive failure (1-based). */
export function retryDelayMs(failures: number): number {
  const i = Math.max(1, Math.floor(failures)) - 1;
  return (SCHEDULE_S[i] ?? 120) * 1000;
}
