/**
 * How the thread-hold tests tell code that holds the engine's thread from a machine that paused
 * it: a measurement is repeated, up to a few times, until one run stays under the bound.
 *
 * What those tests measure (the longest CPU time this thread spent in one timer gap) also counts a
 * garbage collection of the test's own large inputs, a lazily compiled module, or a CI machine
 * that ran slower for a moment: one such pause failed a test at 140 ms where it measures 30-80 ms
 * here. Code that does the work in one go holds the thread for the same long stretch on every
 * run; such a pause seldom falls on every run. So a test passes when any run stays under its
 * bound, and fails, naming every run's figure, when none does. The watch most of them use is here
 * too: a timer, and this thread's own CPU time in its longest gap ({@link gapMonitor}).
 * @module
 */

import assert from "node:assert/strict";

/** One run's figure. */
export interface HoldRun {
  /** The longest this thread was held at once (ms). */
  held: number;
  /** What else the run saw, for the failure message (e.g. the longest gaps). */
  detail?: string;
}

/** Options for {@link assertHeldBelow}. */
export interface HeldBelowOptions {
  /** The thread must have been held less than this (ms) in at least one run. */
  boundMs: number;
  /** Runs at most (default 3). */
  tries?: number;
  /** What was held, for the message (e.g. "the engine's thread"). */
  what?: string;
  /** One run: sets up what it needs, measures, and gives its figure. `attempt` counts from 1. */
  run: (attempt: number) => Promise<HoldRun>;
}

/**
 * Runs `run` until one run holds the thread less than `boundMs` (at most `tries` runs), printing
 * each run's figure, and throws, naming each run's figure, when none does. Returns every run's
 * figure.
 *
 * @example
 * ```ts
 * await assertHeldBelow({
 *   boundMs: 200,
 *   what: "the engine's thread",
 *   run: async (attempt) => {
 *     const monitor = gapMonitor();
 *     await sendBig(`BIG${attempt}`);
 *     return { held: monitor.stop().held };
 *   },
 * });
 * ```
 */
export async function assertHeldBelow(options: HeldBelowOptions): Promise<HoldRun[]> {
  const tries = options.tries ?? 3;
  assert.ok(tries >= 1, "at least one run");
  const runs: HoldRun[] = [];
  for (let attempt = 1; attempt <= tries; attempt++) {
    const run = await options.run(attempt);
    runs.push(run);
    // deno-lint-ignore no-console -- each run's figure, for the record (CI's log shows them)
    console.log(
      `${options.what ?? "the thread"}, run ${attempt}: held ${run.held.toFixed(0)} ms at once` +
        (run.detail ? ` (${run.detail})` : ""),
    );
    if (run.held < options.boundMs) return runs;
  }
  const figures = runs.map((r, i) =>
    `run ${i + 1}: ${r.held.toFixed(0)} ms${r.detail ? ` (${r.detail})` : ""}`
  );
  assert.fail(
    `${options.what ?? "the thread"} was held ${options.boundMs} ms or more at once in each of ` +
      `${tries} runs: ${figures.join("; ")}`,
  );
}

/**
 * CPU time of this thread so far, in ms (Linux: /proc, 10 ms steps), or undefined elsewhere (a
 * sync read runs on the thread that calls it).
 */
export function threadCpuMs(): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const stat = Deno.readTextFileSync("/proc/thread-self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Watches a 10 ms timer on this thread. `held` is the longest the thread was held by work between
 * two ticks: the CPU time it spent in that gap (on Linux; the gap itself elsewhere), so that a
 * machine busy with other processes, which delays the timer without any work here, does not count.
 */
export function gapMonitor(): { stop(): { gap: number; held: number } } {
  let last = performance.now();
  let lastCpu = threadCpuMs();
  let gap = 0;
  let held = 0;
  const tick = () => {
    const now = performance.now();
    const cpu = threadCpuMs();
    const wall = now - last;
    gap = Math.max(gap, wall);
    held = Math.max(held, cpu === undefined ? wall : Math.min(wall + 10, cpu - lastCpu!));
    last = now;
    lastCpu = cpu;
  };
  const timer = setInterval(tick, 10);
  return {
    stop() {
      tick();
      clearInterval(timer);
      return { gap, held };
    },
  };
}
