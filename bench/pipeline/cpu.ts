/**
 * CPU of a child per thread group, and of the whole machine, from /proc.
 * @module
 */

const decoder = new TextDecoder();

/** CPU time of a process and of each of its live threads, in clock ticks. */
export interface CpuSnapshot {
  /** utime + stime of the whole process (threads that exited included). */
  total: number;
  /** Live threads by tid. */
  threads: Map<number, { comm: string; ticks: number }>;
}

/** utime + stime and comm from a /proc stat line (comm may hold spaces and parentheses). */
function parseStat(line: string): { comm: string; ticks: number } {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  const rest = line.slice(close + 2).split(" ");
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  return {
    comm: line.slice(open + 1, close),
    ticks: Number(rest[11]) + Number(rest[12]),
  };
}

/** Reads the process's and every thread's CPU time. */
export function cpuSnapshot(pid: number): CpuSnapshot {
  const total = parseStat(Deno.readTextFileSync(`/proc/${pid}/stat`)).ticks;
  const threads = new Map<number, { comm: string; ticks: number }>();
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(
        Number(e.name),
        parseStat(Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`)),
      );
    } catch { /* the thread ended meanwhile */ }
  }
  return { total, threads };
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 when unknown). */
export async function ticksPerSecond(): Promise<number> {
  if (clockTicks !== undefined) return clockTicks;
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    clockTicks = Number(decoder.decode(out.stdout).trim()) || 100;
  } catch {
    clockTicks = 100;
  }
  return clockTicks;
}

/** CPU used between two snapshots, per group of threads, in milliseconds. */
export interface CpuRow {
  /** The thread group. */
  group: string;
  /** Threads in it. */
  threads: number;
  /** CPU milliseconds between the snapshots. */
  ms: number;
}

/**
 * CPU between `before` and `after`, by thread group: the main thread (JS, tid = pid), Tokio's
 * workers (I/O and blocking ops), V8's platform workers (GC, compilation), the KV SQLite thread
 * (`sw-0`: it exists only once a KV is open), the other threads named `deno`, any other name as
 * it is, and the threads that ended between the snapshots (the process total less the live ones).
 */
export function cpuByGroup(
  pid: number,
  before: CpuSnapshot,
  after: CpuSnapshot,
  ticksPerS: number,
): CpuRow[] {
  const groups = new Map<string, { threads: number; ticks: number }>();
  const add = (group: string, ticks: number, threads = 1) => {
    const g = groups.get(group) ?? { threads: 0, ticks: 0 };
    g.threads += threads;
    g.ticks += ticks;
    groups.set(group, g);
  };
  let live = 0;
  for (const [tid, t] of after.threads) {
    const ticks = t.ticks - (before.threads.get(tid)?.ticks ?? 0);
    live += ticks;
    const group = tid === pid
      ? "main thread (JS)"
      : t.comm.startsWith("tokio-runtime")
      ? "tokio workers"
      : t.comm.startsWith("V8 ")
      ? "V8 platform workers (GC, compile)"
      : t.comm.startsWith("sw-")
      ? "KV SQLite thread (sw-N)"
      : t.comm === "deno"
      ? "other threads named deno"
      : t.comm;
    add(group, ticks);
  }
  const gone = after.total - before.total - live;
  if (gone > 0) add("threads that ended", gone, 0);
  return [...groups.entries()]
    .map(([group, g]) => ({ group, threads: g.threads, ms: (g.ticks * 1000) / ticksPerS }))
    .sort((a, b) => b.ms - a.ms);
}

/**
 * CPU µs per message of each thread group of `pid` since `before` (groups under 1 µs left out).
 *
 * @example
 * ```ts ignore
 * const cpu0 = cpuSnapshot(pid);
 * // … the load and its drain …
 * const perMessage = cpuUsPerMessage(pid, cpu0, tps, delivered);
 * ```
 */
export function cpuUsPerMessage(
  pid: number,
  before: CpuSnapshot,
  ticksPerS: number,
  messages: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of cpuByGroup(pid, before, cpuSnapshot(pid), ticksPerS)) {
    const us = Math.round(row.ms * 1000 / Math.max(1, messages));
    if (us > 0) out[row.group] = us;
  }
  return out;
}

/** The whole machine's CPU time from /proc/stat, in clock ticks. */
export interface MachineCpu {
  /** Ticks not idle, not waiting for I/O and not stolen, summed over every core. */
  busy: number;
  /** Cores (the `cpuN` lines). */
  cores: number;
}

/** Reads the machine's CPU time: every process, the load generators and peers included. */
export function machineCpu(): MachineCpu {
  const lines = Deno.readTextFileSync("/proc/stat").split("\n");
  // cpu  user nice system idle iowait irq softirq steal …: busy is user to softirq less idle and
  // iowait (steal is time the hypervisor gave to others).
  const f = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = f.slice(0, 7).reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
  return { busy, cores: lines.filter((l) => /^cpu\d/.test(l)).length };
}

/** Machine CPU between two readings over `seconds`: cores busy, and µs per message of `count`. */
export function machineShare(
  before: MachineCpu,
  after: MachineCpu,
  ticksPerS: number,
  seconds: number,
  count: number,
): { coresBusy: number; cores: number; usPerMsg: number } {
  const s = (after.busy - before.busy) / ticksPerS;
  return {
    coresBusy: s / Math.max(1e-9, seconds),
    cores: after.cores,
    usPerMsg: (s * 1e6) / Math.max(1, count),
  };
}
