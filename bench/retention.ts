/**
 * Intake latency during a retention sweep: a steady stream of accepts (16 at a time, as MLLP
 * connections would send) on a KV file, measured alone and while `sweepStore` removes a backlog
 * of old logs and messages in bounded batches. Prints a table and one JSON line.
 *
 * Run: `deno run --allow-all bench/retention.ts [old-messages] [accepts]`
 * @module
 */

import { sweepStore } from "../actors/store/retention.ts";
import { Store } from "../actors/store/store.ts";
import { printJson, printLine, printTable } from "./harness.ts";

const OLD = Number(Deno.args[0] ?? 20_000);
const ACCEPTS = Number(Deno.args[1] ?? 4_000);
const PARALLEL = 16;
const DAY = 86_400_000;

const dir = await Deno.makeTempDir({ prefix: "bench-retention-" });
let now = Date.UTC(2026, 0, 1);
const store = await Store.open({ path: `${dir}/kv`, node: "bench", now: () => now });
const payload = new TextEncoder().encode(
  "MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01|X|P|2.5.1\rPID|1||MRN^^^HOSP^MR||DOE^JANE"
    .padEnd(
      1000,
      " ",
    ),
);

function accept(i: number) {
  return store.accept({
    queue: "sftp:bench",
    origin: { kind: "integration", id: "bench" },
    payload,
    contentType: "application/hl7-v2",
    log: { type: "RECEIVE", integrationId: "bench" },
    dedupe: { scope: "bench", key: `${now}-${i}`, ack: "ACK", windowMs: DAY },
  });
}

/** Accepts `n` messages, `PARALLEL` at a time; the latency of each in ms. */
async function intake(n: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < n) {
      const i = next++;
      const t = performance.now();
      await accept(i);
      latencies.push(performance.now() - t);
    }
  }));
  return latencies;
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

try {
  printLine(`writing ${OLD} old messages (finished logs, dedupe records)…`);
  // The backlog: finished messages (logs SUCCEEDED) 40 days old.
  for (let i = 0; i < OLD; i += 500) {
    const got = await Promise.all(
      Array.from({ length: Math.min(500, OLD - i) }, (_, k) => accept(i + k)),
    );
    for (const r of got) {
      if (r.status === "stored") await store.updateLog(r.logId, { status: "SUCCEEDED" });
    }
  }
  now += 40 * DAY;
  await intake(500); // warm-up
  const alone = await intake(ACCEPTS);
  const sweepStarted = performance.now();
  const sweeping = sweepStore(store, { now, retentionMs: 30 * DAY, dedupeWindowMs: DAY });
  const during = await intake(ACCEPTS);
  const swept = await sweeping;
  const sweepMs = performance.now() - sweepStarted;
  const rows = [
    ["alone", ACCEPTS, pct(alone, 0.5), pct(alone, 0.99), Math.max(...alone)],
    ["during sweep", ACCEPTS, pct(during, 0.5), pct(during, 0.99), Math.max(...during)],
  ] as const;
  printTable(["intake", "accepts", "p50 ms", "p99 ms", "max ms"], rows);
  printLine(
    `sweep: ${swept.logs} logs, ${swept.messages} messages, ${swept.dedupe} dedupe records in ${swept.commits} commits, ${
      Math.round(sweepMs)
    } ms`,
  );
  printJson({
    bench: "retention",
    old: OLD,
    accepts: ACCEPTS,
    aloneP50Ms: pct(alone, 0.5),
    aloneP99Ms: pct(alone, 0.99),
    duringP50Ms: pct(during, 0.5),
    duringP99Ms: pct(during, 0.99),
    sweepMs: Math.round(sweepMs),
    swept,
  });
} finally {
  store.close();
  await Deno.remove(dir, { recursive: true });
}
