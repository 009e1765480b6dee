/**
 * The JSON API pipeline as users run it when an application posts to an EHR: `POST /endpoint`
 * (the bearer token checked, the message validated and routed by the source's subscription, the
 * HL7 v2 written for the MLLP destination and stored with the message in one commit, 200 with the
 * log) → the destination's actor → one MLLP destination (the bench's counting receiver), every
 * message delivered and counted, including the time to drain.
 *
 * The engine runs as a child process (`main.ts serve`, plain HTTP on loopback as in development),
 * gets {@link WARM_SECONDS} s of the same load first (V8 compiles the hot paths over about that
 * long), drained, then the disk is synced, then {@link CLIENTS} keep-alive clients post for
 * {@link SECONDS} s (bench/load/https_post.ts, a process of its own) and the backlog drains.
 * Next to it in the same run, the issue's HTTP peer under the same load, served the same way
 * (`servePublic`, plain HTTP on loopback): a bare Hono handler storing one KV row per request with
 * a group commit.
 *
 * Figures: delivered ÷ (load + drain), and that ÷ the peer's rate; the 200 rate and its p99; the
 * backlog when the load ended and the drain; CPU µs per delivered message by thread. The issue
 * sets no target for this path (its HTTPS ingress target is measured by bench/https_ingress.ts,
 * without delivery); the row shows what a Redox-style sender gets end to end.
 *
 * Run: `deno run -A bench/api_to_mllp.ts [seconds=10]`. Takes about 1 minute. Everything binds
 * and connects to 127.0.0.1 only. Prints a table, then one JSON line.
 *
 * @module
 */

import { servePublic } from "../transports/http/serve.ts";
import { benchLogger, printJson, printLine, printTable } from "./harness.ts";
import {
  apiMessage,
  cpuSnapshot,
  cpuUsPerMessage,
  EngineChild,
  HOST,
  httpLoad,
  type HttpLoadResult,
  installGuard,
  killAll,
  kvRowsApp,
  Receiver,
  settleDisk,
  ticksPerSecond,
  waitDelivered,
} from "./pipeline/mod.ts";

const SECONDS = Number(Deno.args[0] ?? 10);
const WARM_SECONDS = 10;
const CLIENTS = 64;
const DRAIN_MS = 120_000;
const SECRET_ENV = "BENCH_API_SECRET";
const SECRET = "bench-api-secret";

const release = installGuard("api_to_mllp", 300_000);
const receiver = Receiver.start();
const dir = await Deno.makeTempDir({ prefix: "bench-api-pipeline-" });
const bodyFile = `${dir}/message.json`;
await Deno.writeTextFile(bodyFile, apiMessage());
try {
  printLine(`api_to_mllp: ${CLIENTS} clients, ${SECONDS} s + drain, after ${WARM_SECONDS} s`);
  const engine = await pipeline();
  const peer = await oneRowPeer();
  const ratio = engine.sustainedMsgPerS / peer.per_s;
  printTable(
    ["POST /endpoint (JSON) -> MLLP out", "sustained", "200 rate", "p99 ms", "backlog", "drain s"],
    [[
      "engine, HL7 written and delivered",
      engine.sustainedMsgPerS,
      engine.okPerS,
      engine.p99Ms,
      engine.backlogAtLoadEnd,
      engine.drainSeconds,
    ], [
      "bare Hono, one KV row (group commit)",
      peer.per_s,
      peer.per_s,
      peer.p99_ms ?? NaN,
      "-",
      "-",
    ]],
  );
  printTable(
    ["CPU per delivered message, µs", "engine"],
    Object.entries(engine.cpuUsPerMsg).map(([group, us]) => [group, us]),
  );
  printLine(
    `the API pipeline sustained ${engine.sustainedMsgPerS} msg/s delivered: ` +
      `${ratio.toFixed(3)}x the bare Hono handler storing one KV row (${peer.per_s} req/s) ` +
      `in the same run`,
  );
  printJson({
    bench: "api_to_mllp",
    clients: CLIENTS,
    seconds: SECONDS,
    engine,
    kvRow: { reqPerS: peer.per_s, p50Ms: peer.p50_ms, p99Ms: peer.p99_ms },
    ratioToKvRow: Number(ratio.toFixed(3)),
  });
} finally {
  release();
  killAll();
  receiver.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** The engine: warm-up, then the measured load and its drain. */
async function pipeline() {
  const e = await EngineChild.start(await Deno.makeTempDir({ dir }), receiver.port, {
    config: {
      sources: [{
        id: "app",
        environment: "development",
        clientId: "bench-client",
        auth: { secret: { env: SECRET_ENV } },
      }],
      subscriptions: [{ id: "app-to-out", from: { source: "app" }, to: ["out"] }],
      // The rate limit runs, with a ceiling the load cannot reach.
      limits: { rateLimitPerIp: 1_000_000_000 },
    },
    env: { [SECRET_ENV]: SECRET },
  });
  const alive = () => e.alive;
  try {
    const token = await tokenOf(e.base);
    const url = `${e.base}/endpoint`;
    let posted = receiver.count + (await load(url, token, WARM_SECONDS)).ok;
    if (!(await waitDelivered(receiver, posted, DRAIN_MS, alive)).done) {
      throw new Error(`the warm-up did not drain:\n  ${e.tail()}`);
    }
    await settleDisk();
    const tps = await ticksPerSecond();
    const base = receiver.count;
    const cpu0 = cpuSnapshot(e.pid);
    const measured = await load(url, token, SECONDS);
    posted += measured.ok;
    const atEnd = receiver.count - base;
    const drain = await waitDelivered(receiver, posted, DRAIN_MS, alive);
    if (!drain.done) throw new Error(`not drained in ${DRAIN_MS / 1000} s:\n  ${e.tail()}`);
    const delivered = receiver.count - base;
    const cpuUsPerMsg = cpuUsPerMessage(e.pid, cpu0, tps, delivered);
    const problems = e.problems();
    if (problems.length > 0) printLine(`engine warnings or errors: ${problems.slice(0, 3)}`);
    return {
      sustainedMsgPerS: Math.round(delivered / (measured.seconds + drain.seconds)),
      okPerS: measured.per_s,
      p50Ms: measured.p50_ms ?? NaN,
      p99Ms: measured.p99_ms ?? NaN,
      backlogAtLoadEnd: measured.ok - atEnd,
      drainSeconds: Number(drain.seconds.toFixed(2)),
      cpuUsPerMsg,
    };
  } finally {
    await e.stop();
  }
}

/** The peer, warmed up the same way, then measured for as long. */
async function oneRowPeer(): Promise<HttpLoadResult> {
  const kv = await Deno.openKv(`${dir}/kv-row.kv`);
  // Served as the engine serves its API (node:http with its timeouts; plain HTTP in development).
  const server = await servePublic({
    fetch: kvRowsApp(kv, () => 1).fetch,
    http: { port: 0, hostname: HOST, development: true },
    log: benchLogger("kv-row"),
  });
  try {
    const url = `http://${HOST}:${server.port}/endpoint`;
    await load(url, "", WARM_SECONDS);
    await settleDisk();
    return await load(url, "", SECONDS);
  } finally {
    await server.shutdown();
    kv.close();
  }
}

/** An access token for the bench's source (client credentials, as a Redox client gets one). */
async function tokenOf(base: string): Promise<string> {
  const res = await fetch(`${base}/v2/auth/token`, {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`bench-client:${SECRET}`)}` },
    body: new URLSearchParams({ grant_type: "client_credentials" }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`token refused: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** `CLIENTS` clients posting the message to `url` for `seconds`; every answer must be 200. */
function load(url: string, token: string, seconds: number): Promise<HttpLoadResult> {
  return httpLoad({ url, clients: CLIENTS, seconds, bodyFile, token });
}
