/**
 * Time since (or until) wall-clock timestamps, measured on the monotonic clock. Alert records keep
 * wall timestamps (an alert's `since`, its last notification, a delivery's retry time: shown to
 * people and shared through KV with other processes and later runs), but a wall-clock step (an
 * NTP step, `date -s`) must neither end nor stretch the durations counted from them. Each
 * timestamp is tied to a monotonic reading once: when this process sets it ({@link mark}), or
 * else at first sight, from the wall clock's distance to it then ({@link monoOf}). From then on,
 * time since it is counted on the monotonic clock alone.
 * @module
 */

import type { Clock } from "../runtime/clock.ts";

interface Anchor {
  wall: number;
  mono: number;
}

/** See the module doc. */
export class WallAnchors {
  readonly #clock: Clock;
  readonly #anchors = new Map<string, Anchor>();

  /** Anchors on `clock`'s two readings. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Ties `key`'s timestamp `wall` to monotonic time `mono` (default: now; `wall` is now too). */
  mark(key: string, wall: number, mono: number = this.#clock.monotonic()): void {
    this.#anchors.set(key, { wall, mono });
  }

  /**
   * The monotonic time of `key`'s timestamp `wall`: the one marked or seen before for that same
   * timestamp, else (first sight, or the timestamp changed) now minus the wall clock's distance
   * to it, kept from then on.
   */
  monoOf(key: string, wall: number): number {
    let a = this.#anchors.get(key);
    if (a?.wall !== wall) {
      a = { wall, mono: this.#clock.monotonic() - (this.#clock.now() - wall) };
      this.#anchors.set(key, a);
    }
    return a.mono;
  }

  /** Milliseconds since `key`'s timestamp `wall` (negative: still to come), on the monotonic clock. */
  since(key: string, wall: number): number {
    // Anchored before the reading of now: a timestamp first seen now is then 0 ms old, never the
    // moment between two readings below it (which kept a rule without `forSeconds` from firing).
    const mono = this.monoOf(key, wall);
    return this.#clock.monotonic() - mono;
  }

  /**
   * `wall` as the wall clock should read it were it never stepped since the timestamp was
   * anchored: the wall time now minus the monotonic time since it. For code that compares it with
   * the wall time now.
   */
  steady(key: string, wall: number): number {
    return this.#clock.now() - this.since(key, wall);
  }

  /** Forgets the anchors whose key `keep` refuses (the timestamps no longer held). */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.#anchors.keys()) if (!keep(key)) this.#anchors.delete(key);
  }

  /** Anchors held (tests: they do not pile up). */
  get size(): number {
    return this.#anchors.size;
  }
}
