/**
 * SIGKILL under load: what a crash costs. The real engine (`main.ts serve`, a child process) takes
 * MLLP from 16 connections and delivers to one MLLP destination; after a few seconds it is killed
 * with SIGKILL, started again on the same KV file, and left to drain. Every control id the
 * senders got an `AA` for must reach the destination (lost: 0). Messages the destination got twice
 * are the price of pipelined completions: a delivered message whose completion had not committed
 * is sent again after the restart. The bound is the completions a delivery actor lets commit in
 * the background (64), the one in flight, and the messages its socket thread may have sent ahead
 * of the actor taking their ACKs (32), per destination.
 *
 * Run: `deno run -A bench/crash.ts [rounds=3] [secondsBeforeKill=3]` (or `deno task bench crash`).
 * About 30 s. Everything binds and connects to 127.0.0.1 only. Prints a table, then one JSON line.
 * @module
 */

import { encodeMllp, MllpDecoder } from "../codecs/mllp/mod.ts";
import { printJson, printLine, printTable } from "./harness.ts";
import { EngineChild, installGuard, killAll, Receiver, sleep } from "./pipeline/mod.ts";

const ROUNDS = Number(Deno.args[0] ?? 3);
const BEFORE_KILL_MS = Number(Deno.args[1] ?? 3) * 1000;
const CONNS = 16;
/**
 * Completions in the background (delivery_actor.ts MAX_COMPLETING), the one in flight, and those
 * sent ahead by the socket thread (mllp_deliverer.ts AHEAD_LIST).
 */
const BOUND = 64 + 1 + 32;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const release = installGuard("crash", 150_000);

/** A message with control id `id`. */
function message(id: string): string {
  return [
    `MSH|^~\\&|CRASH|HOSP|ENGINE|HUB|20250101120000||ADT^A01^ADT_A01|${id}|P|2.5.1`,
    "EVN|A01|20250101120000",
    `PID|1||${id}^^^HOSP^MR||DOE^JANE||19800101|F`,
    "PV1|1|I|W^389^1",
  ].join("\r") + "\r";
}

/** One sender: a message in flight at a time until `stop` or the connection fails. */
async function sender(
  port: number,
  n: number,
  acked: Set<string>,
  stop: AbortSignal,
): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return;
  }
  const decoderMllp = new MllpDecoder();
  const buf = new Uint8Array(16 * 1024);
  try {
    for (let i = 0; !stop.aborted; i++) {
      const id = `K${n}-${i}`;
      await conn.write(encodeMllp(encoder.encode(message(id))));
      let answer: string | undefined;
      while (answer === undefined) {
        const got = await conn.read(buf);
        if (got === null) return;
        for (const e of decoderMllp.push(buf.slice(0, got))) {
          if (e.type === "frame") answer = decoder.decode(e.payload);
        }
      }
      if (/\rMSA\|AA\|/.test(answer)) acked.add(id);
    }
  } catch {
    // The engine was killed: what was acknowledged so far is what counts.
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

interface Round {
  acked: number;
  delivered: number;
  lost: number;
  duplicates: number;
  drainSeconds: number;
}

async function round(): Promise<Round> {
  const dir = await Deno.makeTempDir({ prefix: "bench-crash-" });
  const receiver = Receiver.start();
  receiver.arrivalPrefix = "K";
  try {
    const first = await EngineChild.start(dir, receiver.port);
    const acked = new Set<string>();
    const stop = new AbortController();
    const senders = Array.from(
      { length: CONNS },
      (_, n) => sender(first.mllpPort, n, acked, stop.signal),
    );
    await sleep(BEFORE_KILL_MS);
    Deno.kill(first.pid, "SIGKILL");
    stop.abort();
    await Promise.all(senders);
    await first.stop(); // reaps the killed process
    const second = await EngineChild.start(dir, receiver.port);
    const t0 = performance.now();
    while (performance.now() - t0 < 60_000 && [...acked].some((id) => !receiver.arrivals.has(id))) {
      await sleep(100);
    }
    const drainSeconds = (performance.now() - t0) / 1000;
    await second.stop();
    const lost = [...acked].filter((id) => !receiver.arrivals.has(id)).length;
    return {
      acked: acked.size,
      delivered: receiver.arrivals.size,
      lost,
      duplicates: receiver.duplicates,
      drainSeconds,
    };
  } finally {
    receiver.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

try {
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    printLine(`crash: round ${r + 1}: load, SIGKILL after ${BEFORE_KILL_MS / 1000} s, restart`);
    rounds.push(await round());
  }
  printLine();
  printTable(
    ["round", "ACKed", "delivered", "lost", "sent twice", "drain s"],
    rounds.map((r, i) => [i + 1, r.acked, r.delivered, r.lost, r.duplicates, r.drainSeconds]),
  );
  const lost = rounds.reduce((n, r) => n + r.lost, 0);
  const worst = Math.max(...rounds.map((r) => r.duplicates));
  printLine(`lost: ${lost} (target 0); sent twice at most ${worst} per crash (bound ${BOUND})`);
  printJson({
    bench: "crash",
    rounds,
    lost: { count: lost, ratio: lost, targetMax: 0 },
    duplicates: { worst, bound: BOUND, ratio: worst / BOUND, targetMax: 1 },
  });
} finally {
  release();
  killAll();
}
