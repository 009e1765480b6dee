/**
 * The pipeline through the application step, as users run it when a route changes the message:
 * MLLP in → the inbound actor (the full parse, the route's plan, an HL7 edit on the destination,
 * the edited message stored with the routing commit and handed to the destination's actor with
 * its payload) → one MLLP destination. Next to it, in the same run, the same engine passing the
 * messages straight through (routed in the accept commit, handed to the destination in memory:
 * what `deno task bench pipeline` measures).
 *
 * Each engine runs as a child process (`main.ts serve`), gets 10 s of the same load first (V8
 * compiles the hot paths over about that long), drained, then the disk is synced, then 16
 * connections for {@link SECONDS} s and the drain. Figures: delivered ÷ (load + drain), the ACK
 * rate, the backlog when the load ended, the drain, and CPU µs per delivered message per thread;
 * `ratio` is the application step's sustained rate ÷ the straight-through one's (no target: the
 * issue sets none, and the extra work is real — a parse, a plan, an edit, a second message stored).
 *
 * Run: `deno run -A bench/application_step.ts [seconds=10]`. Takes about 1½ minutes. Everything
 * binds and connects to 127.0.0.1 only. Prints a table, then one JSON line.
 *
 * @module
 */

import { printJson, printLine, printTable } from "./harness.ts";
import {
  cpuSnapshot,
  cpuUsPerMessage,
  EngineChild,
  installGuard,
  killAll,
  mllpLoad,
  Receiver,
  settleDisk,
  ticksPerSecond,
  waitDelivered,
} from "./pipeline/mod.ts";

const SECONDS = Number(Deno.args[0] ?? 10);
const WARM_SECONDS = 10;
const CONNS = 16;
const DRAIN_MS = 120_000;
/** An edit every message takes: the facility in MSH-4 set for the receiver. */
const EDIT = { hl7Edits: [{ name: "facility", op: "set", path: "MSH-4", value: "ENGINE" }] };

interface Run {
  name: string;
  sustainedMsgPerS: number;
  ackMsgPerS: number;
  ackP99Ms: number;
  backlogAtLoadEnd: number;
  drainSeconds: number;
  /** CPU per delivered message, µs, by thread group. */
  cpuUsPerMsg: Record<string, number>;
}

const release = installGuard("application_step", 400_000);
const receiver = Receiver.start();
const dir = await Deno.makeTempDir({ prefix: "bench-application-step-" });
try {
  printLine(
    `application_step: ${CONNS} connections, ${SECONDS} s + drain, after ${WARM_SECONDS} s`,
  );
  const straight = await run("straight through (routed at intake)", {});
  const edited = await run("application step (an HL7 edit)", EDIT);
  const runs = [straight, edited];
  printTable(
    ["MLLP in -> MLLP out", "sustained", "ACK rate", "ACK p99 ms", "backlog at end", "drain s"],
    runs.map((r) => [
      r.name,
      r.sustainedMsgPerS,
      r.ackMsgPerS,
      r.ackP99Ms,
      r.backlogAtLoadEnd,
      r.drainSeconds,
    ]),
  );
  const groups = [...new Set(runs.flatMap((r) => Object.keys(r.cpuUsPerMsg)))];
  printTable(
    ["CPU per delivered message, µs", ...runs.map((r) => r.name.split(" (")[0]!)],
    groups.map((g) => [g, ...runs.map((r) => r.cpuUsPerMsg[g] ?? 0)]),
  );
  const ratio = edited.sustainedMsgPerS / straight.sustainedMsgPerS;
  printLine(
    `the application step sustained ${edited.sustainedMsgPerS} msg/s: ${ratio.toFixed(2)}x ` +
      `straight through (${straight.sustainedMsgPerS}) in the same run`,
  );
  printJson({ bench: "application_step", straight, edited, ratio: Number(ratio.toFixed(3)) });
} finally {
  release();
  killAll();
  receiver.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** One engine with `destination` settings: warm-up, then the measured load and its drain. */
async function run(name: string, destination: Record<string, unknown>): Promise<Run> {
  printLine(`application_step: ${name}`);
  const e = await EngineChild.start(await Deno.makeTempDir({ dir }), receiver.port, {
    destination,
  });
  const alive = () => e.alive;
  try {
    let acked = receiver.count + (await mllpLoad(e.mllpPort, CONNS, WARM_SECONDS)).ok;
    if (!(await waitDelivered(receiver, acked, DRAIN_MS, alive)).done) {
      throw new Error(`${name}: the warm-up did not drain:\n  ${e.tail()}`);
    }
    await settleDisk();
    const tps = await ticksPerSecond();
    const base = receiver.count;
    const cpu0 = cpuSnapshot(e.pid);
    const load = await mllpLoad(e.mllpPort, CONNS, SECONDS);
    if (load.bad > 0 || load.errors > 0) {
      throw new Error(`${name}: ${load.bad} bad ACKs, ${load.errors} connection errors`);
    }
    acked += load.ok;
    const atEnd = receiver.count - base;
    const drain = await waitDelivered(receiver, acked, DRAIN_MS, alive);
    if (!drain.done) throw new Error(`${name}: not drained in ${DRAIN_MS / 1000} s`);
    const delivered = receiver.count - base;
    const cpuUsPerMsg = cpuUsPerMessage(e.pid, cpu0, tps, delivered);
    return {
      name,
      sustainedMsgPerS: Math.round(delivered / (load.seconds + drain.seconds)),
      ackMsgPerS: Math.round(load.msg_per_s),
      ackP99Ms: load.p99_ms ?? NaN,
      backlogAtLoadEnd: load.ok - atEnd,
      drainSeconds: Number(drain.seconds.toFixed(2)),
      cpuUsPerMsg,
    };
  } finally {
    await e.stop();
  }
}
