/**
 * A long run of the whole pipeline (issue 23): the real engine (`main.ts serve` in a child
 * process, one MLLP integration → one MLLP destination, as in bench/pipeline.ts) under
 * `../shared/tools/mllp-paced.mjs` (16 connections) at 70 % of a sustained rate, for 10 minutes by
 * default. The engine is warmed first as bench/pipeline.ts warms it, for 10 s: with the load
 * that measures the sustained rate (10 s of `mllp-load.mjs`, 16 connections, delivered ÷ (load +
 * drain)) after it, or at the rate when one is given.
 *
 * Every 30 s window prints: the messages offered and ACKed, late sends and the ACK p99 (all of
 * mllp-paced: the probe's messages apart), sent → delivered p50/p99 of a probe (20 msg/s of the
 * offered rate on a connection of its own, timed from its send to its arrival at the destination;
 * one still on its way counts with its age), the engine's RSS, the backlog (ACKed − delivered) and
 * the KV files' bytes per delivered message, and the longest this bench's own event loop (which
 * runs the receiver and the probe) was held up, so a slow window can be told apart from a stall of
 * the measuring side or the machine. At the end: whether each stayed flat: the probe's p99 as the
 * median of the last half of the windows ÷ that of the first half (≤ 1.5×; one stall decides a
 * window's p99, so a single window is not compared with another; the worst is printed beside),
 * RSS and KV bytes per message last window ÷ first (≤ 1.2× each; backlog at the end ≤ 1 s
 * of traffic), and the KV bytes per delivered message at rest (engine stopped).
 *
 * Run: `deno task bench soak` (10 minutes; `deno task bench` without a filter skips it), or
 * `deno run -A bench/soak.ts [seconds=600] [rate]` (e.g. `60` while developing);
 * `BENCH_SOAK_SECONDS` and `BENCH_SOAK_RATE` do the same through the runner. Prints one JSON line.
 *
 * @module
 */

import { median, printJson, printLine, printTable } from "./harness.ts";
import {
  EngineChild,
  installGuard,
  killAll,
  kvBytes,
  LagMonitor,
  mllpLoad,
  mllpPaced,
  Probe,
  quantile,
  Receiver,
  removeNow,
  round,
  sleep,
  waitDelivered,
} from "./pipeline/mod.ts";

const SECONDS = Number(Deno.args[0] ?? Deno.env.get("BENCH_SOAK_SECONDS") ?? 600);
const GIVEN_RATE = Deno.args[1] ?? Deno.env.get("BENCH_SOAK_RATE");
const WINDOW = Math.min(30, SECONDS);
const CONNS = 16;
const PROBE_RATE = 20;
/**
 * Seconds of load before the sustained run, or at the given rate before the windows (V8 compiles
 * the engine's hot paths over its first ten seconds of load: see bench/pipeline.ts).
 */
const WARM_UP_SECONDS = 10;
const DRAIN_MS = 120_000;
const MiB = 1024 * 1024;

interface Window {
  endS: number;
  /** By mllp-paced (the probe's messages apart). */
  offered: number;
  acked: number;
  late: number;
  ackP99Ms: number;
  p50Ms: number;
  p99Ms: number;
  probes: number;
  pending: number;
  backlog: number;
  rssMiB: number;
  kvKiBPerMsg: number;
  /** The longest this process's event loop (receiver and probe) was held up in the window. */
  lagMs: number;
}

const dir = await Deno.makeTempDir({ prefix: "bench-soak-" });
const disarm = installGuard("soak", SECONDS * 1000 + 300_000, () => removeNow(dir));
const receiver = Receiver.start();
receiver.trackIds = false; // hundreds of thousands of ids: count only
receiver.arrivalPrefix = "PROBE-";
let probe: Probe | undefined;
let lag: LagMonitor | undefined;
try {
  let engine: EngineChild | undefined;
  for (let attempt = 1; !engine; attempt++) {
    try {
      engine = await EngineChild.start(dir, receiver.port);
    } catch (error) {
      // Others may be editing the engine: retry a failed start twice, 20 s apart.
      printLine(`  engine start ${attempt} failed: ${(error as Error).message}`);
      if (attempt >= 3) throw error;
      await sleep(20_000);
    }
  }
  const e = engine;
  const alive = () => e.alive;
  let acked = 0;

  let sustained: number;
  if (GIVEN_RATE !== undefined) {
    sustained = Number(GIVEN_RATE) / 0.7;
    // Without the sustained run the engine starts cold: warm it at the rate first, so the first
    // windows measure the engine and not its JIT warm-up.
    const warm = await mllpPaced(e.mllpPort, CONNS, WARM_UP_SECONDS, Number(GIVEN_RATE));
    acked += warm.ok;
    const drain = await waitDelivered(receiver, acked, DRAIN_MS, alive);
    if (!drain.done) throw new Error(`the warm-up did not drain:\n  ${e.tail()}`);
  } else {
    // Warmed as `deno task bench pipeline` warms it, so that 70 % is of its sustained rate and not
    // of its first seconds, while V8 still compiles its hot paths.
    const warm = await mllpLoad(e.mllpPort, CONNS, WARM_UP_SECONDS);
    acked += warm.ok;
    if (!(await waitDelivered(receiver, acked, DRAIN_MS, alive)).done) {
      throw new Error(`the warm-up did not drain:\n  ${e.tail()}`);
    }
    const before = receiver.count;
    printLine(`soak: sustained rate, ${CONNS} connections, 10 s + drain`);
    const load = await mllpLoad(e.mllpPort, CONNS, 10);
    acked += load.ok;
    const drain = await waitDelivered(receiver, acked, DRAIN_MS, alive);
    if (!drain.done) {
      throw new Error(
        `the sustained run did not drain; actors: ${await e.actors()}\n  ${e.tail()}`,
      );
    }
    sustained = (receiver.count - before) / (load.seconds + drain.seconds);
  }
  const rate = Math.round(0.7 * sustained);
  printLine(
    `soak: ${rate} msg/s (70 % of ${Math.round(sustained)}) for ${SECONDS} s, ` +
      `windows of ${WINDOW} s (${PROBE_RATE} msg/s of it by the probe)`,
  );
  const head = [
    "t s",
    "offered",
    "ACKed",
    "late",
    "ACK p99",
    "probe p50",
    "probe p99",
    "pending",
    "backlog",
    "RSS MiB",
    "KV KiB/msg",
    "bench lag",
  ];
  printLine(head.map((h) => h.padStart(10)).join(" "));

  probe = await Probe.start(e.mllpPort, PROBE_RATE);
  const windows: Window[] = [];
  lag = new LagMonitor();
  const t0 = performance.now();
  for (let k = 0; k * WINDOW < SECONDS && e.alive; k++) {
    const paced = await mllpPaced(e.mllpPort, CONNS, WINDOW, rate - PROBE_RATE);
    acked += paced.ok;
    const lat = probe.take(receiver, Date.now());
    const backlog = Math.max(0, acked + probe.acked - receiver.count);
    const w: Window = {
      endS: Math.round((performance.now() - t0) / 1000),
      offered: Math.round((rate - PROBE_RATE) * WINDOW),
      acked: paced.ok,
      late: paced.late ?? 0,
      ackP99Ms: paced.p99_ms ?? NaN,
      p50Ms: quantile(lat.sorted, 0.5),
      p99Ms: quantile(lat.sorted, 0.99),
      probes: lat.sorted.length,
      pending: lat.pending,
      backlog,
      rssMiB: round(e.rss() / MiB),
      kvKiBPerMsg: round(kvBytes(e.kvPath).total / 1024 / Math.max(1, receiver.count), 2),
      lagMs: lag.take(),
    };
    windows.push(w);
    printLine(
      [
        w.endS,
        w.offered,
        w.acked,
        w.late,
        w.ackP99Ms,
        w.p50Ms,
        w.p99Ms,
        w.pending,
        w.backlog,
        w.rssMiB,
        w.kvKiBPerMsg,
        w.lagMs,
      ].map((v) => String(v).padStart(10)).join(" "),
    );
  }
  await probe.stop();
  if (!e.alive) throw new Error(`the engine died during the soak:\n  ${e.tail()}`);
  if (windows.length === 0) throw new Error("no window was measured (seconds must be > 0)");
  const drain = await waitDelivered(receiver, acked + probe.acked, DRAIN_MS, alive);
  const problems = e.problems();
  const stoppedAs = await e.stop();
  const atRest = kvBytes(e.kvPath);
  const kibAtRest = atRest.total / 1024 / Math.max(1, receiver.count);

  // With one window there is nothing to compare: the ratios are left out (NaN, null in JSON).
  const first = windows.length > 1
    ? windows[0]!
    : { ...windows[0]!, p99Ms: NaN, rssMiB: NaN, kvKiBPerMsg: NaN };
  const last = windows[windows.length - 1]!;
  // The p99 moves from window to window (the 6th-worst of ~600 probes), and one stall decides a
  // window: the halves' medians say whether it drifts, whichever window held a stall; the worst
  // window is printed beside them.
  const half = Math.floor(windows.length / 2);
  const early = windows.length > 1 ? median(windows.slice(0, half).map((w) => w.p99Ms)) : NaN;
  const late = windows.length > 1 ? median(windows.slice(-half).map((w) => w.p99Ms)) : NaN;
  const worst = windows.reduce((a, w) => (w.p99Ms > a.p99Ms ? w : a), windows[0]!);
  const flat = {
    p99: {
      first: first.p99Ms,
      last: last.p99Ms,
      firstHalfMedian: early,
      lastHalfMedian: late,
      ratio: round(late / early, 2),
      worst: { ms: worst.p99Ms, atS: worst.endS },
    },
    rss: { first: first.rssMiB, last: last.rssMiB, ratio: round(last.rssMiB / first.rssMiB, 2) },
    kvPerMsg: {
      first: first.kvKiBPerMsg,
      last: last.kvKiBPerMsg,
      ratio: round(last.kvKiBPerMsg / first.kvKiBPerMsg, 2),
    },
    backlogSeconds: { last: last.backlog, ratio: round(last.backlog / rate, 2) },
  };
  printLine();
  printTable(["stayed flat? (last vs first)", "first", "last", "ratio", "target"], [
    [
      "probe sent -> delivered p99 ms, median of each half",
      early,
      late,
      flat.p99.ratio,
      "<= 1.5",
    ],
    ["engine RSS MiB", first.rssMiB, last.rssMiB, flat.rss.ratio, "<= 1.2"],
    [
      "KV KiB per delivered message",
      first.kvKiBPerMsg,
      last.kvKiBPerMsg,
      flat.kvPerMsg.ratio,
      "<= 1.2",
    ],
    ["backlog, seconds of traffic", "", last.backlog, flat.backlogSeconds.ratio, "<= 1"],
  ]);
  printLine(
    `probe p99 of the first and last windows: ${first.p99Ms} and ${last.p99Ms} ms; ` +
      `worst window: ${worst.p99Ms} ms (ending at ${worst.endS} s, bench lag ${worst.lagMs} ms)`,
  );
  printLine(
    `drained after the last window in ${round(drain.seconds, 2)} s` +
      (drain.done ? "" : ` (NOT drained: ${acked + probe.acked - receiver.count} undelivered)`) +
      `; engine stopped: ${stoppedAs}; KV at rest ${round(atRest.total / MiB)} MiB for ` +
      `${receiver.count} messages = ${round(kibAtRest, 2)} KiB per message (target <= 2.5)` +
      `; probe: ${probe.failed} not answered AA`,
  );
  if (problems.length > 0) {
    printLine(`${problems.length} warnings or errors from the engine, first: ${problems[0]}`);
  }
  printJson({
    bench: "soak",
    seconds: SECONDS,
    windowSeconds: WINDOW,
    rate,
    sustainedRate: GIVEN_RATE === undefined ? Math.round(sustained) : null,
    windows,
    drained: drain.done,
    flat: {
      p99: { ...flat.p99, targetMax: 1.5 },
      rss: { ...flat.rss, targetMax: 1.2 },
      kvPerMsg: { ...flat.kvPerMsg, targetMax: 1.2 },
      backlogSeconds: { ...flat.backlogSeconds, targetMax: 1 },
    },
    kibPerMsgAtRest: { ratio: round(kibAtRest, 2), targetMax: 2.5 },
  });
} finally {
  lag?.stop();
  await probe?.stop().catch(() => {});
  receiver.close();
  killAll();
  disarm();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
