/**
 * The children a bench run starts (engine, peers, load generators): each one tracked, so that a
 * guard timer or a signal stops every one still running, by its own pid only; and the small
 * helpers they share (free ports, sleeps, removing a folder now).
 * @module
 */

import { printLine } from "../harness.ts";

/** Every socket binds and connects here. */
export const HOST = "127.0.0.1";
/** `../shared/tools/`: the load generators, the corpus and the KV limit server. */
export const TOOLS = new URL("../../../shared/tools/", import.meta.url);
/** The repository's root (where `main.ts` is). */
export const REPO = new URL("../../", import.meta.url);

/** A child process this rig started. */
export interface Tracked {
  name: string;
  child: Deno.ChildProcess;
  done: boolean;
}
const tracked = new Set<Tracked>();

/** Spawns `command` and tracks it so that {@link killAll} can stop it. */
export function spawn(name: string, command: Deno.Command): Tracked {
  const t: Tracked = { name, child: command.spawn(), done: false };
  tracked.add(t);
  void t.child.status.then(() => {
    t.done = true;
    tracked.delete(t);
  });
  return t;
}

/** SIGKILLs every child this rig started that is still running. */
export function killAll(): void {
  for (const t of tracked) {
    if (t.done) continue;
    try {
      t.child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

/**
 * A hard stop: after `ms`, prints why, kills every child, runs `cleanup` (synchronous: removing
 * the temp folder) and exits 2. SIGINT and SIGTERM do the same with exit code 130. Returns a
 * function that disarms the timer.
 */
export function installGuard(name: string, ms: number, cleanup: () => void = () => {}): () => void {
  const stop = (code: number) => {
    killAll();
    try {
      cleanup();
    } catch { /* best effort on the way out */ }
    Deno.exit(code);
  };
  const timer = setTimeout(() => {
    printLine(`${name}: timed out after ${Math.round(ms / 1000)} s; stopping every child`);
    stop(2);
  }, ms);
  Deno.unrefTimer(timer);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop(130));
  }
  return () => clearTimeout(timer);
}

/** Removes a folder and what it holds, now; nothing when it is already gone. */
export function removeNow(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* gone */ }
}

/** Waits for a child's exit for at most `ms`; SIGKILLs it after that. */
export async function stopChild(
  t: Tracked,
  signal: Deno.Signal,
  ms: number,
): Promise<Deno.CommandStatus> {
  if (!t.done) {
    try {
      t.child.kill(signal);
    } catch { /* already gone */ }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms));
  const first = await Promise.race([t.child.status, late]);
  clearTimeout(timer);
  if (first !== "late") return first;
  try {
    t.child.kill("SIGKILL");
  } catch { /* already gone */ }
  return await t.child.status;
}

/** A port that was free a moment ago on 127.0.0.1 (a config needs it before listening). */
export function freePort(): number {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
