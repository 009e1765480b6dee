/**
 * Notices wall-clock steps (an NTP step, `date -s`, a VM resumed with a stale clock): every few
 * seconds it compares how far the wall clock moved with how far the monotonic clock moved; a
 * difference over a second is a step. Each step is logged once (`WARN clock.stepped offsetMs=…
 * direction=forward|backward`), counted, and makes the `clock` health check degraded for ten
 * minutes; the retention sweep asks it whether a large forward step happened lately (a wrong
 * clock must not delete history).
 *
 * A slewed clock (NTP's gradual correction, at most 0.5 ms per second) never adds up to a step
 * between two checks. The timer is unref'd (it keeps no process alive) and is stopped by
 * {@link ClockWatch.stop}.
 * @module
 */

import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";

/** One step the watch noticed. */
export interface ClockStep {
  /** How far the wall clock moved beyond the monotonic one, in ms (negative: back). */
  offsetMs: number;
  direction: "forward" | "backward";
  /** Wall time just after the step. */
  at: number;
  /** Monotonic time the step was noticed. */
  mono: number;
}

/** A `/healthz` check, as `actors/runtime/health.ts` builds them, plus `degraded`. */
export interface ClockHealthCheck {
  name: "clock";
  /** Always true: a stepped clock is reported, it does not make the process unhealthy. */
  ok: true;
  /** True for {@link ClockWatchOptions.degradedMs} after a step. */
  degraded?: boolean;
  reason?: string;
  /** Since when (ISO 8601) it has been degraded: the step's wall time. */
  since?: string;
}

/** How a {@link ClockWatch} runs. */
export interface ClockWatchOptions {
  clock: Clock;
  log: Logger;
  /** Between two comparisons, default 5 s. */
  intervalMs?: number;
  /** A difference larger than this is a step, default 1 s. */
  thresholdMs?: number;
  /** The health check stays degraded this long after a step, default 10 minutes. */
  degradedMs?: number;
  /** Steps remembered (for {@link ClockWatch.forwardStepWithin}) this long, default 24 h. */
  keepMs?: number;
}

/** Steps remembered at most (a clock flapping every few seconds must not grow memory). */
const MAX_KEPT = 64;

/** See the module doc. */
export class ClockWatch {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #thresholdMs: number;
  readonly #degradedMs: number;
  readonly #keepMs: number;
  #wall: number;
  #mono: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #steps: ClockStep[] = [];
  #counts = { forward: 0, backward: 0 };
  #listeners: ((step: ClockStep) => void)[] = [];

  /** Takes the clocks' readings now as the first reference; see {@link start}. */
  constructor(options: ClockWatchOptions) {
    this.#clock = options.clock;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? 5_000;
    this.#thresholdMs = options.thresholdMs ?? 1_000;
    this.#degradedMs = options.degradedMs ?? 600_000;
    this.#keepMs = options.keepMs ?? 86_400_000;
    this.#wall = this.#clock.now();
    this.#mono = this.#clock.monotonic();
  }

  /** Compares the clocks every interval until {@link stop}. Idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#wall = this.#clock.now();
    this.#mono = this.#clock.monotonic();
    const timer = setInterval(() => {
      try {
        this.check();
      } catch (error) {
        // A listener's fault must not end the watch nor escape the timer.
        this.#log.warn("clock.watch-failed", { error });
      }
    }, this.#intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops the comparisons. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Calls `listener` on every step noticed from now on (e.g. a metric counter). */
  onStep(listener: (step: ClockStep) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * One comparison (the timer's; tests call it directly): the step since the last one, if the
   * wall clock moved more than the threshold beyond (or short of) the monotonic clock.
   */
  check(): ClockStep | undefined {
    const wall = this.#clock.now();
    const mono = this.#clock.monotonic();
    const offsetMs = (wall - this.#wall) - (mono - this.#mono);
    this.#wall = wall;
    this.#mono = mono;
    if (Math.abs(offsetMs) <= this.#thresholdMs) return undefined;
    const step: ClockStep = {
      offsetMs: Math.round(offsetMs),
      direction: offsetMs > 0 ? "forward" : "backward",
      at: wall,
      mono,
    };
    this.#counts[step.direction]++;
    this.#steps = this.#steps.filter((s) => mono - s.mono < this.#keepMs).slice(-(MAX_KEPT - 1));
    this.#steps.push(step);
    this.#log.warn("clock.stepped", {
      offsetMs: step.offsetMs,
      direction: step.direction,
      now: new Date(wall).toISOString(),
      note: "the wall clock jumped (NTP step, date -s, VM resume): timeouts and durations run " +
        "on the monotonic clock and are not affected; timestamps written meanwhile follow the " +
        "wall clock; check NTP if this repeats",
    });
    for (const listener of this.#listeners) listener(step);
    return step;
  }

  /** Steps noticed since start, by direction. */
  get counts(): Readonly<{ forward: number; backward: number }> {
    return this.#counts;
  }

  /** The latest step noticed, if any. */
  get last(): ClockStep | undefined {
    return this.#steps.at(-1);
  }

  /**
   * The largest forward step over `overMs` noticed within the last `withinMs` (monotonic), if
   * any (at most {@link ClockWatchOptions.keepMs} back).
   */
  forwardStepWithin(withinMs: number, overMs: number): ClockStep | undefined {
    const mono = this.#clock.monotonic();
    let found: ClockStep | undefined;
    for (const s of this.#steps) {
      if (
        s.offsetMs > overMs && mono - s.mono < withinMs && (!found || s.offsetMs > found.offsetMs)
      ) {
        found = s;
      }
    }
    return found;
  }

  /** The `clock` check of `/healthz`: degraded for a while after a step. */
  health(): ClockHealthCheck {
    const last = this.last;
    if (!last || this.#clock.monotonic() - last.mono >= this.#degradedMs) {
      return { name: "clock", ok: true };
    }
    return {
      name: "clock",
      ok: true,
      degraded: true,
      reason: `the wall clock stepped ${last.direction} by ${Math.abs(last.offsetMs)} ms ` +
        `(${this.#counts.forward + this.#counts.backward} steps since start)`,
      since: new Date(last.at).toISOString(),
    };
  }
}
