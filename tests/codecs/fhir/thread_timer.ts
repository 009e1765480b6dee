/**
 * How long the thread was held while some work ran: a timer on it, and the CPU time the process
 * spent between its ticks (shared by the FHIR tests that check validation lets the thread go).
 * @module
 */

import process from "node:process";
import { threadCpuMs } from "../../helpers/thread_hold.ts";

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

/** The CPU time (ms) this thread (or, where that cannot be read, the process) has used. */
function cpuMs(): number {
  const own = threadCpuMs();
  if (own !== undefined) return own;
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
}

/**
 * Runs `work` with a 2 ms timer on the thread: the longest wait between two ticks during which
 * this thread was working (the smaller of the wait and the CPU time this thread spent in it: a
 * wait while the machine, or another thread of the process, ran is not the thread being held),
 * the longest wait, and the ticks.
 */
export async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
  let last = performance.now();
  let lastCpu = cpuMs();
  let held = 0;
  let longest = 0;
  let ticks = 0;
  const tick = () => {
    const now = performance.now();
    const cpu = cpuMs();
    // The thread's CPU is counted in ticks of 10 ms: one tick more is within its rounding.
    held = Math.max(held, Math.min(now - last, cpu - lastCpu));
    longest = Math.max(longest, now - last);
    last = now;
    lastCpu = cpu;
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
