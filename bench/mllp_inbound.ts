/**
 * Inbound MLLP benchmark: the engine's durable ACK (parse, dedupe, group commit to a KV file, then
 * AA) against `@medplum/hl7`'s `Hl7Server` answering `message.buildAck()` without persistence,
 * under the same load in the same run. Load: `shared/tools/mllp-load.mjs` (Node) with 16 and then
 * 128 connections, 5 s each, one message in flight per connection, every ACK checked.
 * Targets: engine ≥ 1.5× the raw server at 16 connections, engine p99 ≤ 10 ms.
 *
 * Then one 30 MiB message (`big()` of hl7corpus at 30 × 1024 KiB) sent by a Node child over a raw
 * socket until its AA, with the engine's resident memory growth (peak RSS, reset before the send
 * through /proc/self/clear_refs, less RSS before). Target: growth < 4× the message size.
 *
 * What runs behind the listener: the integration has no subscription, so its inbound actor would
 * log each message FILTERED. For the headline figures that actor is paused (an operator pause in
 * KV), so what is measured is the communication step alone; one more 16-connection run goes to a
 * second integration whose actor runs and drains its queue at the same time, to show how much the
 * application step takes away from inbox on this machine.
 *
 * Run: `deno run -A bench/mllp_inbound.ts [seconds=5]`. Takes about 30 s. Everything binds and
 * connects to 127.0.0.1 only. Prints tables, then one JSON line.
 *
 * @module
 */

import { Hl7Server } from "@medplum/hl7";
import { parseConfig } from "../actors/config/mod.ts";
import { inboundActorId } from "../actors/engine/identities.ts";
import { Store } from "../actors/store/mod.ts";
import { compose } from "../app/compose.ts";
import { benchLogger, printJson, printLine, printTable } from "./harness.ts";
import { freePort, type LoadResult, mllpLoad } from "./pipeline/mod.ts";

const HOST = "127.0.0.1";
const SECONDS = Number(Deno.args[0] ?? 5);
const BIG_KIB = 30 * 1024;
const MiB = 1024 * 1024;
const CORPUS = new URL("../../shared/tools/hl7corpus.mjs", import.meta.url);

// Hard stop: the script must end on its own even if something hangs.
const guard = setTimeout(() => {
  printLine("mllp_inbound: timed out after 150 s");
  Deno.exit(2);
}, 150_000);
Deno.unrefTimer(guard);

/** A run of the Node load generator against `port`; one with bad ACKs or errors fails. */
async function load(port: number, connections: number): Promise<LoadResult> {
  const result = await mllpLoad(port, connections, SECONDS);
  if (result.bad > 0 || result.errors > 0) {
    throw new Error(`mllp-load: ${result.bad} bad ACKs, ${result.errors} errors on port ${port}`);
  }
  return result;
}

/** Resident set size and its peak since the last reset, in bytes (Linux). */
function residentMemory(): { rss: number; peak: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** Resets the peak RSS (VmHWM) of this process; false where the kernel does not allow it. */
function resetPeak(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** Node child: sends one big() message over a raw socket and prints the ACK it got. */
const BIG_SENDER = `
import net from "node:net";
const [corpusUrl, host, port, kib] = process.argv.slice(1);
const { big, rng } = await import(corpusUrl);
const fields = big(0, rng(1), Number(kib)).split("|");
fields[9] = "BIG" + process.pid;
const body = Buffer.from(fields.join("|"), "utf8");
const frame = Buffer.concat([Buffer.from([0x0b]), body, Buffer.from([0x1c, 0x0d])]);
const sock = net.connect({ host, port: Number(port) });
sock.setNoDelay(true);
let t0 = 0, buf = Buffer.alloc(0);
const timer = setTimeout(() => { console.log(JSON.stringify({ error: "no ACK in 60 s" })); process.exit(1); }, 60000);
sock.on("connect", () => { t0 = performance.now(); sock.write(frame); });
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  const end = buf.indexOf(0x1c);
  if (end < 0) return;
  const ack = buf.subarray(buf.indexOf(0x0b) + 1, end).toString("utf8");
  const msa = ack.split("\\r").find((s) => s.startsWith("MSA"))?.split("|") ?? [];
  console.log(JSON.stringify({ bytes: body.length, code: msa[1], ms: performance.now() - t0, id: fields[9], answered: msa[2] }));
  clearTimeout(timer);
  sock.end();
});
sock.on("error", (e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
`;

interface BigResult {
  bytes: number;
  code: string;
  ms: number;
  rssBefore: number;
  peakGrowth: number;
  rssGrowthAfter: number;
}

async function bigMessage(port: number): Promise<BigResult> {
  // Settle what earlier work left behind, then measure from here.
  await new Promise((r) => setTimeout(r, 300));
  const before = residentMemory();
  const reset = resetPeak();
  const out = await new Deno.Command("node", {
    args: ["--input-type=module", "-e", BIG_SENDER, CORPUS.href, HOST, String(port), `${BIG_KIB}`],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const after = residentMemory();
  const text = new TextDecoder().decode(out.stdout).trim();
  const got = JSON.parse(text.split("\n").pop() ?? "{}") as {
    bytes?: number;
    code?: string;
    ms?: number;
    error?: string;
    id?: string;
    answered?: string;
  };
  if (!out.success || got.error) throw new Error(`30 MiB sender: ${got.error ?? text}`);
  if (got.code !== "AA" || got.answered !== got.id) {
    throw new Error(`30 MiB message answered ${got.code} for ${got.answered}, expected AA`);
  }
  return {
    bytes: got.bytes!,
    code: got.code,
    ms: got.ms!,
    rssBefore: before.rss,
    peakGrowth: (reset ? after.peak : Math.max(after.peak, after.rss)) - before.rss,
    rssGrowthAfter: after.rss - before.rss,
  };
}

/** `Hl7Server` bound to 127.0.0.1 only (its `start(port)` would listen on every interface). */
async function startRawServer(): Promise<{ port: number; server: Hl7Server }> {
  const server = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => connection.send(message.buildAck()));
  });
  // `start` hands its first argument to node's `server.listen`, which also takes an options object.
  await server.start({ port: 0, host: HOST } as unknown as number);
  const addr = server.server?.address();
  if (!addr || typeof addr === "string" || addr.address !== HOST) {
    throw new Error(`Hl7Server is not on ${HOST}: ${JSON.stringify(addr)}`);
  }
  return { port: addr.port, server };
}

// ---------------------------------------------------------------------------------------------

const dir = await Deno.makeTempDir({ prefix: "bench-inbound-" });
// Ports chosen ahead, not 0: the paused actor's id is its port, set in KV before the engine
// starts, and compose gives the system's choice to one port 0 only.
const inboxPort = freePort(); // its inbound actor is paused: inbox only
const drainPort = freePort(); // its inbound actor runs (logs FILTERED) during one extra run
const parsed = parseConfig({
  node: { id: "bench" },
  kv: { path: `${dir}/engine.kv` },
  environments: [{ id: "dev", type: "development" }],
  // 30 MiB of base64 plus the ORU around it is a little over 30 MiB.
  // All 128 load connections come from one address: above the default per-peer cap of 100.
  limits: { maxHl7Bytes: 32 * MiB, maxConnectionsPerPeer: 1000 },
  listeners: [{ port: inboxPort, hostname: HOST }, { port: drainPort, hostname: HOST }],
  integrations: [
    { id: "feed", environment: "dev", mllp: { port: inboxPort, allowedIps: [HOST] } },
    { id: "feed-drained", environment: "dev", mllp: { port: drainPort, allowedIps: [HOST] } },
  ],
}, { env: () => undefined, readFile: () => new Error("no files in the bench") });
if (!parsed.ok) throw new Error(`bench config: ${JSON.stringify(parsed.problems)}`);
const config = parsed.config;

const store = await Store.open({ path: config.kv.path, node: "bench" });
await store.setControl(inboundActorId(inboxPort, HOST), {
  paused: true,
  by: "bench",
  reason: "measure the communication step alone",
  at: Date.now(),
});
const log = benchLogger();
// The engine as main.ts serve composes it, on that store; no HTTP server.
const composed = await compose(config, { log, store, http: false });
const { engine } = composed;
const raw = await startRawServer();

let big: BigResult;
let drainedStatus = { processed: 0, left: 0 };
const runs: { name: string; conc: number; engine?: LoadResult; raw?: LoadResult }[] = [];
try {
  printLine(`mllp_inbound: one ${BIG_KIB / 1024} MiB message to the engine`);
  big = await bigMessage(inboxPort);

  for (const conc of [16, 128]) {
    printLine(`mllp_inbound: ${conc} connections, ${SECONDS} s each`);
    const e = await load(inboxPort, conc);
    const r = await load(raw.port, conc);
    runs.push({ name: "inbox only", conc, engine: e, raw: r });
  }
  printLine(`mllp_inbound: 16 connections, inbound actor draining the queue at the same time`);
  runs.push({ name: "inbox + FILTERED drain", conc: 16, engine: await load(drainPort, 16) });
  const status = await engine.supervisor.status(inboundActorId(drainPort, HOST));
  drainedStatus = {
    processed: Number(status?.detail?.processed ?? 0),
    left: status?.queueDepth ?? 0,
  };
} finally {
  await composed.close();
  await raw.server.stop({ forceDrainTimeoutMs: 100 });
  await Deno.remove(dir, { recursive: true });
}

const ms = (x: number | null | undefined) => x ?? NaN;
const rows: (string | number)[][] = [];
for (const run of runs) {
  if (run.engine) {
    rows.push([
      `engine, ${run.name}`,
      run.conc,
      run.engine.msg_per_s,
      ms(run.engine.p50_ms),
      ms(run.engine.p99_ms),
    ]);
  }
  if (run.raw) {
    rows.push([
      "Hl7Server buildAck, no persistence",
      run.conc,
      run.raw.msg_per_s,
      ms(run.raw.p50_ms),
      ms(run.raw.p99_ms),
    ]);
  }
}
printLine();
printTable(["server", "conns", "msg/s", "p50 ms", "p99 ms"], rows);
const at = (conc: number) => runs.find((r) => r.conc === conc && r.raw)!;
const ratio16 = at(16).engine!.msg_per_s / at(16).raw!.msg_per_s;
const ratio128 = at(128).engine!.msg_per_s / at(128).raw!.msg_per_s;
const drained = runs.find((r) => !r.raw)!.engine!;
printLine(
  `engine / Hl7Server: ${ratio16.toFixed(2)}x at 16 connections (target >= 1.5x), ` +
    `${ratio128.toFixed(2)}x at 128; engine p99 at 16: ${at(16).engine!.p99_ms} ms (target <= 10)`,
);
printLine(
  `with the inbound actor draining: ${drained.msg_per_s} msg/s ` +
    `(${(drained.msg_per_s / at(16).engine!.msg_per_s * 100).toFixed(0)} % of inbox only); ` +
    `it logged ${drainedStatus.processed} FILTERED meanwhile, ${drainedStatus.left} left queued`,
);
printLine();
const growthRatio = big.peakGrowth / big.bytes;
printTable(["30 MiB message", "value"], [
  ["size (MiB)", big.bytes / MiB],
  ["ACK", big.code],
  ["send to AA (ms)", Math.round(big.ms)],
  ["RSS before (MiB)", big.rssBefore / MiB],
  ["peak RSS growth (MiB)", big.peakGrowth / MiB],
  ["RSS growth after AA (MiB)", big.rssGrowthAfter / MiB],
  ["peak growth / size (target < 4)", Number(growthRatio.toFixed(2))],
]);
if (log.problems > 0) printLine(`${log.problems} warnings or errors from the engine`);

const figures = (r: LoadResult) => ({ msgPerS: r.msg_per_s, p50Ms: r.p50_ms, p99Ms: r.p99_ms });
printJson({
  bench: "mllp_inbound",
  seconds: SECONDS,
  c16: {
    engine: figures(at(16).engine!),
    raw: figures(at(16).raw!),
    ratio: Number(ratio16.toFixed(3)),
    target: 1.5,
  },
  c128: {
    engine: figures(at(128).engine!),
    raw: figures(at(128).raw!),
    ratio: Number(ratio128.toFixed(3)),
  },
  c16Draining: { ...figures(drained), ...drainedStatus },
  big: {
    bytes: big.bytes,
    ackMs: Math.round(big.ms),
    peakRssGrowthMiB: Number((big.peakGrowth / MiB).toFixed(1)),
    ratio: Number(growthRatio.toFixed(3)),
    targetMax: 4,
  },
  ratio: Number(ratio16.toFixed(3)),
});
