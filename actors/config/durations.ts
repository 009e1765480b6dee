/**
 * Duration settings of the config (`…Seconds`, `…Minutes`, `…Hours`, `…Days`) with an upper
 * bound. Timers hold at most 2^31-1 ms (about 24.8 days): a longer one fires after 1 ms (Deno and
 * Node set it to 1 with a `TimeoutOverflowWarning`), so "never" written as a huge number would
 * turn a frame timeout into an instant one, and an idle timer into a busy loop. Every duration
 * that can feed a timer is therefore bounded by {@link MAX_TIMER_MS}; `…Days` settings (retention,
 * certificate warnings) are only compared with dates and get a bound of their own.
 *
 * Every duration has a lower bound too, its {@link Floor}, chosen per setting: a timeout of 0
 * (or 1 µs) fails every exchange at once, an interval of 0 turns a poller into a busy loop. The
 * refusal says why: `at least 1 second: a destination gets no time to answer`. A floor is as low
 * as a fast test still needs (tests poll SFTP every 0.2 s): it refuses what harms, not what is
 * merely short. A setting where 0 means something (fire at once) has floor 0 and says what it means.
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
 * The shortest value of a duration setting, inclusive, in its unit, and why a shorter one harms
 * (shown in the refusal). With `min: 0`, `why` says what 0 means instead.
 */
export interface Floor {
  min: number;
  why: string;
}

/** The refusal of a value under `floor`: `at least 1 second: a destination gets no time…`. */
function atLeast(floor: Floor, unit: string): string {
  const units = floor.min === 1 ? unit.replace(/s$/, "") : unit;
  return floor.min === 0
    ? `at least 0 ${units} (0: ${floor.why})`
    : `at least ${floor.min} ${units}: ${floor.why}`;
}

/**
 * A duration in `unit`, at least `floor.min` and at most the longest timer. The refusals name the
 * bound: `at least 1 second: a destination gets no time to answer`, `at most 2147483 seconds
 * (about 24 days 20 h; longer timers overflow)`. A floor of 0 is described in the JSON Schema
 * (`0: fires at once`): the schema-walking test tells an intended 0 from a missing floor by it.
 */
// The inferred zod type is what callers chain on (`.default(30)`, `.optional()`).
// deno-lint-ignore explicit-module-boundary-types
export function duration(unit: keyof typeof UNIT_MS, floor: Floor) {
  const limit = maxTimerUnits(unit);
  const bounded = z.number().min(floor.min, { error: atLeast(floor, unit) }).max(limit, {
    error: `at most ${limit} ${unit} (${roughly(limit * UNIT_MS[unit])}; longer timers overflow)`,
  });
  return floor.min === 0 ? bounded.meta({ description: `0: ${floor.why}` }) : bounded;
}

/** A whole or fractional number of days, at least `floor.min` (over 0), at most {@link MAX_DAYS}. */
// deno-lint-ignore explicit-module-boundary-types
export function days(floor: Floor) {
  return z.number().min(floor.min, { error: atLeast(floor, "days") }).max(MAX_DAYS, {
    error: `at most ${MAX_DAYS} days (10 years)`,
  });
}
