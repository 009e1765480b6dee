/**
 * What the planning-thread tests share: the engine of one MLLP integration routed to one HTTP
 * destination, and a watch of how long work held this thread (its own CPU time, not the
 * process's: the planning thread's work must not count).
 * @module
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";

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

/**
 * Whether `BIG_INLINE` is set: the thread-hold tests then run the code they guard against, every
 * message planned on the engine's own thread (`planThreads: { offloadBytes: Infinity }`), as
 * before the planning thread, and must fail.
 */
export const BIG_INLINE: boolean = Boolean(Deno.env.get("BIG_INLINE"));

/** The engine options {@link BIG_INLINE} asks for: none unless it is set. */
export function inlineWhenAsked(): { planThreads?: { offloadBytes: number } } {
  return BIG_INLINE ? { planThreads: { offloadBytes: Infinity } } : {};
}

/** MLLP integration `lab` (port 0) → HTTPS destination `app` at `127.0.0.1:hookPort/hook`. */
export function configFor(dir: string, hookPort: number): Config {
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{ id: "lab", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } }],
    destinations: [{
      id: "app",
      environment: "dev",
      https: { url: `http://127.0.0.1:${hookPort}/hook`, verificationToken: { env: "T" } },
    }],
    subscriptions: [{ from: { integration: "lab" }, to: ["app"] }],
  }, { env: () => "token", readFile: () => new Error("-") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}
