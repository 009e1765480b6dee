/**
 * When an engine on this KV was last seen running, by the wall clock: one small row (no expiry),
 * written every 10 minutes and at a clean stop. A clock stepped while the engine was stopped is
 * seen by nothing else (the clock watch compares two readings of a running process), and the first
 * sweep after such a start would delete the whole history at once. So at start, a wall clock over
 * an hour past that time (the engine was down that long, or the clock was stepped forward while it
 * was down: it cannot tell which) or over an hour behind it (stepped back while it was down) holds
 * the sweep for 24 h ({@link downtimeAtStart}, and `retentionHold` in retention.ts).
 *
 * While the sweep is held (for any reason) the row keeps `at`, the last time seen with the sweep
 * running, and notes the hold (`held`: since when, and the time seen now), so that:
 * - after "fix the clock and restart", a clock back within an hour of `at` is trusted again;
 * - a restart during a hold, with the same clock, keeps the hold's end (24 h after it began)
 *   instead of starting it over: an engine restarted every night after one long stop would
 *   otherwise never sweep again.
 *
 * One row for the whole KV, not one per node: in a cluster the processes still running keep it
 * current, so a node back from real downtime is not held, while one whose clock moved is (and a
 * held node leaves a row another node keeps with its sweep on as it is).
 * @module
 */

import { keys } from "./keys.ts";
import { withKvRetry } from "./kv.ts";
import { HOLD_AFTER_STEP_MS, HOLD_STEP_MS, span } from "./retention.ts";
import type { Store } from "./store.ts";

/** The last-seen row. */
export interface LastSeen {
  /** The last wall time seen with the sweep not held, ms since the epoch. */
  at: number;
  /** The node that wrote the row. */
  node: string;
  /** While the sweep is held: since when (wall time), and the wall time seen last. */
  held?: { since: number; seen: number };
}

/** How often a running engine writes the row: every 10 minutes. */
export const LAST_SEEN_EVERY_MS = 600_000;

const finite = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n);

/** The last-seen row, if one was written (a malformed one counts as none). */
export async function readLastSeen(store: Store): Promise<LastSeen | undefined> {
  const got = await withKvRetry(() => store.kv.get<Partial<LastSeen>>(keys.lastSeen));
  const v = got.value;
  if (!v || typeof v !== "object" || !finite(v.at)) return undefined;
  const row: LastSeen = { at: v.at, node: typeof v.node === "string" ? v.node : "?" };
  const held = v.held;
  if (held && typeof held === "object" && finite(held.since) && finite(held.seen)) {
    row.held = { since: held.since, seen: held.seen };
  }
  return row;
}

/**
 * Writes the row, by this store's node. A hold is noted only over a row of this node's or one
 * already held: while another node runs with its sweep on, the row is that node's to keep.
 */
export async function writeLastSeen(store: Store, row: Omit<LastSeen, "node">): Promise<void> {
  if (row.held) {
    const current = await readLastSeen(store);
    if (current && current.node !== store.node && !current.held) return;
  }
  const value: LastSeen = { at: row.at, node: store.node, ...(row.held ? { held: row.held } : {}) };
  await withKvRetry(() => store.kv.set(keys.lastSeen, value));
}

/** Why the sweep is held at start: a gap over an hour, or a hold that was on at the last stop. */
export interface Downtime {
  /** The last time seen alive (the held run's latest when one was). */
  lastSeen: number;
  /** Who wrote it. */
  node: string;
  /** The wall clock at start. */
  startedAt: number;
  /** `startedAt - lastSeen`: positive, down that long (or stepped forward); negative, stepped back. */
  gapMs: number;
  /** When the hold began (wall): `startedAt`, or an earlier start's when it goes on. */
  since: number;
  /** True when the hold goes on from before the stop (the clock agrees with the held run's). */
  continued: boolean;
}

/**
 * The hold at start, if any: a wall clock over an hour from the last-seen time, either way; or,
 * when the sweep was held at the last stop, that hold until 24 h after it began (if the clock
 * agrees with the held run's), unless the clock is back within an hour of the last time seen
 * with the sweep running (it was corrected).
 */
export function downtimeAtStart(last: LastSeen | undefined, now: number): Downtime | undefined {
  if (!last) return undefined;
  const ref = last.held?.seen ?? last.at;
  const gapMs = now - ref;
  const base = { lastSeen: ref, node: last.node, startedAt: now, gapMs };
  if (Math.abs(gapMs) <= HOLD_STEP_MS) {
    if (!last.held || now - last.held.since >= HOLD_AFTER_STEP_MS) return undefined;
    return { ...base, since: last.held.since, continued: true };
  }
  if (last.held && Math.abs(now - last.at) <= HOLD_STEP_MS) return undefined;
  return { ...base, since: now, continued: false };
}

/** The fields of the one WARN logged at start when {@link downtimeAtStart} holds the sweep. */
export function downtimeWarning(d: Downtime): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const resumesAt = iso(d.since + HOLD_AFTER_STEP_MS);
  const what = "the retention sweep (which deletes logs and messages older than " +
    "limits.logRetentionDays by this clock) is held";
  if (d.continued) {
    return {
      heldSince: iso(d.since),
      resumesAt,
      note: `${what} since ${iso(d.since)} (a clock step, or a long stop, seen then), and it ` +
        `was still held when the engine stopped; it stays held until ${resumesAt}, 24 h after ` +
        `it began`,
      advice: `if the clock is wrong, correct it (NTP) and restart the engine; if it is right, ` +
        `nothing to do: the sweep resumes by itself`,
    };
  }
  if (d.gapMs > 0) {
    return {
      lastSeen: iso(d.lastSeen),
      downFor: span(d.gapMs),
      resumesAt,
      note: `the engine was last seen running at ${iso(d.lastSeen)}, ${span(d.gapMs)} ago by ` +
        `this clock: either it was stopped that long, or the system clock was stepped forward ` +
        `while it was stopped (it cannot tell which); ${what} for 24 h, until ${resumesAt}`,
      advice: `if the clock is wrong, correct it (NTP) and restart the engine; if the downtime ` +
        `was real, nothing to do: the sweep resumes by itself`,
    };
  }
  return {
    lastSeen: iso(d.lastSeen),
    clockBehindBy: span(d.gapMs),
    resumesAt,
    note: `the system clock is ${span(d.gapMs)} behind the time the engine was last seen ` +
      `running (${iso(d.lastSeen)}): it was stepped back while the engine was stopped, or it ` +
      `was ahead before; ${what} for 24 h, until ${resumesAt}`,
    advice: `if the clock is wrong now, correct it (NTP) and restart the engine; if it is right ` +
      `(it was ahead before), nothing to do: the sweep resumes by itself`,
  };
}
