/**
 * How long the thread was held while some work ran: a timer on it, and the CPU time the process
 * spent between its ticks (shared by the FHIR tests that check validation lets the thread go).
 * @module
 */

import process from "node:process";

/** What {@link timed} measured. */
export interface Timed<T> {
  /** What the work gave. */
  value: T;
  /** The longest wait between two ticks while the process worked (ms). */
  held: number;
  /** The longest wait between two ticks, whatever the machine did (ms). */
  longest: number;
  /** How many times the timer fired. */
  ticks: number;
}

/**
 * Runs `work` with a 2 ms timer on the thread: the longest wait between two ticks during which
 * the process was working (the smaller of the wait and the CPU time spent in it: a wait while
 * the machine ran something else is not the thread being held), the longest wait, and the ticks.
 */
export async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let held = 0;
  let longest = 0;
  let ticks = 0;
  const tick = () => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    held = Math.max(held, Math.min(now - last, (cpu.user + cpu.system) / 1000));
    longest = Math.max(longest, now - last);
    last = now;
    lastCpu = process.cpuUsage();
    ticks++;
  };
  const timer = setInterval(tick, 2);
  try {
    const value = await work();
    tick();
    return { value, held, longest, ticks };
  } finally {
    clearInterval(timer);
  }
}
