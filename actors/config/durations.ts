/**
 * Duration settings of the config (`…Seconds`, `…Minutes`, `…Hours`, `…Days`) with an upper
 * bound. Timers hold at most 2^31-1 ms (about 24.8 days): a longer one fires after 1 ms (Deno and
 * Node set it to 1 with a `TimeoutOverflowWarning`), so "never" written as a huge number would
 * turn a frame timeout into an instant one, and an idle timer into a busy loop. Every duration
 * that can feed a timer is therefore bounded by {@link MAX_TIMER_MS}; `…Days` settings (retention,
 * certificate warnings) are only compared with dates and get a bound of their own.
 * @module
 */

import { z } from "zod";

/** The longest timer the runtime keeps: 2^31-1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds per unit a duration setting can be written in. */
export const UNIT_MS = { seconds: 1000, minutes: 60_000, hours: 3_600_000 } as const;

/** The largest whole number of `unit` that still fits a timer: 2,147,483 s, 35,791 min, 596 h. */
export function maxTimerUnits(unit: keyof typeof UNIT_MS): number {
  return Math.floor(MAX_TIMER_MS / UNIT_MS[unit]);
}

/** The longest `…Days` setting: 10 years (retention, certificate-expiry warnings). */
export const MAX_DAYS = 3650;

/** "24 days 20 h" style wording of a bound, for the message. */
function roughly(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const hours = Math.floor((ms % 86_400_000) / 3_600_000);
  return days > 0 ? `about ${days} days${hours > 0 ? ` ${hours} h` : ""}` : `${ms / 1000} s`;
}

/**
 * A positive duration in `unit` (or zero, with `zero: true`), at most the longest timer. The
 * refusal names the bound: `at most 2147483 seconds (about 24 days 20 h; longer timers overflow)`.
 */
// The inferred zod type is what callers chain on (`.default(30)`, `.optional()`).
// deno-lint-ignore explicit-module-boundary-types
export function duration(unit: keyof typeof UNIT_MS, options: { zero?: boolean } = {}) {
  const limit = maxTimerUnits(unit);
  const base = options.zero ? z.number().nonnegative() : z.number().positive();
  return base.max(limit, {
    error: `at most ${limit} ${unit} (${roughly(limit * UNIT_MS[unit])}; longer timers overflow)`,
  });
}

/** A whole or fractional number of days, positive, at most {@link MAX_DAYS}. */
// deno-lint-ignore explicit-module-boundary-types
export function days() {
  return z.number().positive().max(MAX_DAYS, { error: `at most ${MAX_DAYS} days (10 years)` });
}
