/**
 * How many requests Deno KV serves while the JS thread is busy: a fact of KV that bounds an engine
 * start with many destinations to read (see "Where the pipeline stands", seventh round, in the
 * README).
 *
 * Deno KV's SQLite backend (denokv) runs SQLite on a thread of its own and hands it each request
 * (a read, a commit) through a channel of one slot: the JS thread's event loop puts the next
 * request in only after the SQLite thread took the last one. So KV serves fewer requests a second
 * when the JS thread is busy, and a commit waits behind every read issued before it.
 *
 * 1,000 callers read 10 keys each (`getMany`, ~430-byte values, 20,000 rows), one read after the
 * other, for {@link SECONDS} s: first with the JS thread otherwise idle, then with it busy 0.7 ms
 * of every millisecond (a timer), as an engine's JS thread is under load. Prints reads per second,
 * their p50, and the share of a core the SQLite thread and the JS thread had; `ratio` is busy ÷
 * idle reads per second (no target: it is a measurement of KV, not of the engine).
 *
 * Run: `deno run -A bench/kv_requests.ts`. Takes about 10 s; writes a small KV file in the temp
 * folder.
 *
 * @module
 */

import { printJson, printLine, printTable } from "./harness.ts";
import { cpuSnapshot, ticksPerSecond } from "./pipeline/cpu.ts";

const CALLERS = 1000;
const ROWS = 20_000;
const SECONDS = 3;
/** The share of each millisecond the JS thread is kept busy in the second phase. */
const BUSY_MS = 0.7;

interface Phase {
  readsPerS: number;
  p50Ms: number;
  /** Share of a core each thread was on, 0–1. */
  sqliteThread: number;
  jsThread: number;
}

const dir = await Deno.makeTempDir({ prefix: "bench-kv-requests-" });
const kv = await Deno.openKv(`${dir}/kv.sqlite`);
try {
  const value = { id: "x".repeat(26), data: "y".repeat(400) };
  for (let b = 0; b < ROWS / 500; b++) {
    const op = kv.atomic();
    for (let i = 0; i < 500; i++) op.set(["log", `k${b * 500 + i}`], value);
    await op.commit();
  }
  const tps = await ticksPerSecond();
  const idle = await phase(false, tps);
  const busy = await phase(true, tps);
  printTable(["1,000 callers, getMany of 10 keys", "reads/s", "p50 ms", "SQLite thread", "JS"], [
    [
      "JS thread otherwise idle",
      idle.readsPerS,
      idle.p50Ms,
      share(idle.sqliteThread),
      share(idle.jsThread),
    ],
    [
      `JS thread busy ${BUSY_MS} ms of every ms`,
      busy.readsPerS,
      busy.p50Ms,
      share(busy.sqliteThread),
      share(busy.jsThread),
    ],
  ]);
  const ratio = busy.readsPerS / idle.readsPerS;
  printLine(
    `KV served ${
      ratio.toFixed(2)
    }x the reads with the JS thread busy; its SQLite thread was on a ` +
      `core ${share(busy.sqliteThread)} of the time against ${
        share(idle.sqliteThread)
      }: it waited ` +
      "for the JS thread to hand it the next request",
  );
  printJson({
    bench: "kv_requests",
    callers: CALLERS,
    idle,
    busy,
    ratio: Number(ratio.toFixed(3)),
  });
} finally {
  kv.close();
  await Deno.remove(dir, { recursive: true });
}

function share(x: number): string {
  return `${Math.round(x * 100)} %`;
}

async function phase(busy: boolean, tps: number): Promise<Phase> {
  const before = cpuSnapshot(Deno.pid);
  // KV's SQLite thread (`sw-0`): it exists once a KV is open.
  const tid = [...before.threads].find(([, t]) => t.comm.startsWith("sw-"))?.[0];
  if (tid === undefined) throw new Error("no KV SQLite thread (sw-N) in this process");
  const burner = busy
    ? setInterval(() => {
      const end = performance.now() + BUSY_MS;
      while (performance.now() < end) { /* the JS thread kept busy, as under load */ }
    }, 1)
    : undefined;
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  try {
    await Promise.all(Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        const first = (next++ * 10) % ROWS;
        const keys = Array.from({ length: 10 }, (_, j) => ["log", `k${(first + j) % ROWS}`]);
        const t = performance.now();
        await kv.getMany(keys);
        latencies.push(performance.now() - t);
      }
    }));
  } finally {
    clearInterval(burner);
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = cpuSnapshot(Deno.pid);
  const onCore = (t: number) =>
    ((after.threads.get(t)?.ticks ?? 0) - (before.threads.get(t)?.ticks ?? 0)) / tps / seconds;
  latencies.sort((a, b) => a - b);
  return {
    readsPerS: Math.round(latencies.length / seconds),
    p50Ms: Math.round(latencies[latencies.length >> 1]!),
    sqliteThread: Number(onCore(tid).toFixed(2)),
    jsThread: Number(onCore(Deno.pid).toFixed(2)),
  };
}
