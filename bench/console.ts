/**
 * Server-side render time of the console's pages with a million logs in KV (issue 14's target:
 * under 200 ms each). Builds a KV file in a temp dir with the store's own record shapes (a
 * message with its RECEIVE and SEND logs, as `Store.accept` writes them when it routes, and the
 * dedupe record of the newest ones), in batched atomic writes bounded in time; then composes the
 * engine on it and renders each page in-process through the Hono app (`app.request`) with a
 * session signed in by the admin token, 7 times each: the first render (cold: caches empty, code
 * not yet optimised) is shown apart; the median of the others is the page's figure. Prints a
 * table and one JSON line whose `ratio` is the slowest page's median over 200 ms (`targetMax` 1).
 *
 * Run: `deno run --allow-all bench/console.ts [logs] [build-seconds]`
 * @module
 */

import { parseConfig } from "../actors/config/mod.ts";
import { IdGenerator } from "../actors/store/ids.ts";
import { keys } from "../actors/store/keys.ts";
import { Store } from "../actors/store/store.ts";
import type { LogRecord, MessageRecord } from "../actors/store/types.ts";
import { compose } from "../app/compose.ts";
import { benchLogger, median, printJson, printLine, printTable } from "./harness.ts";

const LOGS = Number(Deno.args[0] ?? 1_000_000);
const BUILD_SECONDS = Number(Deno.args[1] ?? 180);
const TARGET_MS = 200;
const SAMPLES = 7;
const TOKEN = "console-bench-admin-token-8d2f6a1c9e4b";
const DESTINATIONS = ["lab", "billing", "archive"];
/** Messages per atomic write (each: a message, two logs, maybe a dedupe record). */
const BATCH = 100;
/** Messages whose dedupe record is still there (the newest, within a day's window). */
const DEDUPED = 20_000;
const SPAN_MS = 7 * 86_400_000;

const encoder = new TextEncoder();
const dir = await Deno.makeTempDir({ prefix: "bench-console-" });
const now = Date.now();
const store = await Store.open({ path: `${dir}/engine.kv`, node: "bench" });

function hl7(controlId: string, i: number): Uint8Array {
  return encoder.encode(
    `MSH|^~\\&|EPIC|HOSP|ENGINE|LAB|20260115123000||ADT^A0${1 + i % 8}|${controlId}|P|2.5.1\r` +
      `EVN|A0${1 + i % 8}|20260115123000\r` +
      `PID|1||MRN${i}^^^HOSP^MR||DOE^JANE^Q||19800101|F|||1 MAIN ST^^SPRINGFIELD^IL^62701\r` +
      `PV1|1|I|W^389^1^UABH||||12345^SMITH^JOHN|||MED|||||||||V${i}`,
  );
}

/** Writes `messages` messages (two logs each), oldest first, spread over the last week. */
async function build(messages: number, deadline: number): Promise<number> {
  const ids = new IdGenerator("bench");
  let written = 0;
  const step = SPAN_MS / messages;
  const batch = async (from: number, to: number) => {
    const op = store.kv.atomic();
    for (let i = from; i < to; i++) {
      const at = Math.floor(now - SPAN_MS + i * step);
      const messageId = ids.next(at);
      const receiveId = ids.next(at);
      const sendId = ids.next(at);
      const controlId = `CTL${i}`;
      const destinationId = DESTINATIONS[i % DESTINATIONS.length]!;
      const failed = i % 97 === 0;
      const payload = hl7(controlId, i);
      const eventType = `A0${1 + i % 8}`;
      const record: MessageRecord = {
        id: messageId,
        origin: { kind: "integration", id: "feed", peer: "10.0.0.7:51234" },
        receivedAt: at,
        contentType: "application/hl7-v2",
        size: payload.length,
        chunks: 0,
        inline: payload,
        controlId,
        messageType: `ADT^${eventType}`,
        receiveLogId: receiveId,
        sendLogIds: [sendId],
      };
      const common = {
        messageId,
        environment: "prod",
        integrationId: "feed",
        dataModel: "PatientAdmin",
        eventType,
        controlId,
        createdAt: at,
        updatedAt: at + 40,
      };
      const receive: LogRecord = {
        ...common,
        id: receiveId,
        type: "RECEIVE",
        status: "SUCCEEDED",
        actorId: "mllp-in:feed",
        attempts: [],
        attemptCount: 0,
      };
      const send: LogRecord = {
        ...common,
        id: sendId,
        type: "SEND",
        status: failed ? "FAILED" : "SUCCEEDED",
        destinationId,
        actorId: `mllp-out:${destinationId}`,
        attempts: failed
          ? [1, 2, 3].map((n) => ({
            n,
            at: at + n * 1000,
            outcome: "FAILED" as const,
            reason: "connection refused",
            durationMs: 3,
          }))
          : [{ n: 1, at: at + 30, outcome: "SUCCEEDED", reason: "AA", durationMs: 9 }],
        attemptCount: failed ? 3 : 1,
        ...(failed ? { reason: "connection refused" } : {}),
      };
      op.set(keys.message(messageId), record).set(keys.log(receiveId), receive)
        .set(keys.log(sendId), send);
      if (i >= messages - DEDUPED) {
        op.set(keys.dedupe("feed", controlId), { messageId, at });
      }
    }
    const r = await op.commit();
    if (!r.ok) throw new Error("bench build: a batch was refused");
  };
  const PARALLEL = 4;
  while (written < messages && performance.now() < deadline) {
    const jobs: Promise<void>[] = [];
    for (let p = 0; p < PARALLEL && written < messages; p++) {
      const from = written;
      written = Math.min(messages, written + BATCH);
      jobs.push(batch(from, written));
    }
    await Promise.all(jobs);
    if (written % 50_000 < BATCH * PARALLEL) printLine(`  ${written * 2} logs written`);
  }
  return written;
}

const config = parseConfig({
  node: { id: "bench" },
  kv: { path: `${dir}/engine.kv` },
  http: { port: 0, hostname: "127.0.0.1", development: true },
  admin: { token: { env: "CONSOLE_BENCH_TOKEN" } },
  environments: [{ id: "prod", type: "production" }],
  listeners: [{ port: 0, hostname: "127.0.0.1", requireFinalCr: false }],
  integrations: [{ id: "feed", environment: "prod", mllp: { port: 0, allowedIps: ["127.0.0.1"] } }],
  destinations: DESTINATIONS.map((id) => ({
    id,
    environment: "prod",
    mllp: { host: "127.0.0.1", port: 1, connectTimeoutSeconds: 1 },
  })),
  subscriptions: [{ from: { integration: "feed" }, to: DESTINATIONS }],
  connections: [{ id: "acme", name: "Acme Lab", integrations: ["feed"], destinations: ["lab"] }],
}, {
  env: (name) => name === "CONSOLE_BENCH_TOKEN" ? TOKEN : undefined,
  readFile: () => new Error("none"),
});
if (!config.ok) throw new Error(JSON.stringify(config.problems));

let engine: Awaited<ReturnType<typeof compose>> | undefined;
try {
  printLine(`building ${LOGS.toLocaleString("en-US")} logs (at most ${BUILD_SECONDS} s)…`);
  const t0 = performance.now();
  const messages = await build(Math.ceil(LOGS / 2), t0 + BUILD_SECONDS * 1000);
  const logs = messages * 2;
  const buildSeconds = (performance.now() - t0) / 1000;
  printLine(`  ${logs} logs in ${buildSeconds.toFixed(1)} s`);

  engine = await compose(config.config, { log: benchLogger(), store, http: false });
  const app = engine.app;
  // Sign in with the admin token through the form, as a browser would.
  const form = await app.request("/console/login");
  const loginCookie = form.headers.get("set-cookie")!.split(";")[0]!;
  const loginToken = /name="_login" value="([^"]+)"/.exec(await form.text())![1]!;
  const signed = await app.request("/console/login", {
    method: "POST",
    headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _login: loginToken, token: TOKEN }),
  });
  if (signed.status !== 303) throw new Error(`sign-in answered ${signed.status}`);
  const cookie = signed.headers.get("set-cookie")!.split(";")[0]!;

  const newest = messages - 1;
  const oldMessage = Math.floor(messages / 3);
  const anySendLog = await store.listLogs({ type: "SEND", limit: 1 });
  const pages: [string, string][] = [
    ["logs", "/console/logs"],
    ["logs, older page", ""],
    ["logs status=FAILED", "/console/logs?status=FAILED"],
    ["logs destination + type", "/console/logs?destination=billing&type=SEND"],
    ["logs since/until (a day ago)", ""],
    ["search control id (recent)", `/console/logs?q=CTL${newest - 5}`],
    ["search control id (old)", `/console/logs?q=CTL${oldMessage}`],
    ["search control id (none)", "/console/logs?q=NO-SUCH-CONTROL-ID"],
    ["search log id", `/console/logs?q=${anySendLog.logs[0]!.id}`],
    ["log detail", `/console/logs/${anySendLog.logs[0]!.id}`],
    ["actors", "/console/actors"],
    ["connections", "/console/connections"],
    ["connection acme", "/console/connections/acme"],
    ["metrics", "/console/metrics"],
    ["metrics data (hour)", "/console/metrics/data.json?range=hour"],
    ["metrics data (day)", "/console/metrics/data.json?range=day"],
    ["audit", "/console/audit"],
  ];
  const first = await app.request("/console/logs", { headers: { cookie } });
  const older = /href="(\/console\/logs\?[^"]*cursor=[^"]+)"/.exec(await first.text());
  pages[1]![1] = (older?.[1] ?? "/console/logs").replaceAll("&amp;", "&");
  const day = new Date(now - 86_400_000).toISOString().slice(0, 10);
  pages[4]![1] = `/console/logs?since=${day}&until=${day}T12:00:00Z`;

  const rows: (string | number)[][] = [];
  const results: Record<string, number> = {};
  const cold: Record<string, number> = {};
  for (const [name, path] of pages) {
    const times: number[] = [];
    let status = 0;
    let bytes = 0;
    for (let s = 0; s < SAMPLES; s++) {
      const t = performance.now();
      const r = await app.request(path, { headers: { cookie } });
      const body = await r.text();
      times.push(performance.now() - t);
      status = r.status;
      bytes = body.length;
    }
    if (status !== 200) throw new Error(`${path} answered ${status}`);
    // The first render is cold (caches empty): shown apart from the median of the rest.
    const warm = median(times.slice(1));
    results[name] = Math.round(warm * 10) / 10;
    cold[name] = Math.round(times[0]!);
    rows.push([name, path.slice(0, 60), Math.round(times[0]!), warm, Math.round(bytes / 1024)]);
  }
  printTable(["page", "path", "first ms", "median ms", "KiB"], rows);
  const slowest = Math.max(...Object.values(results));
  printJson({
    bench: "console",
    logs,
    buildSeconds: Math.round(buildSeconds),
    pagesMs: results,
    firstMs: cold,
    slowestMs: slowest,
    ratio: Math.round((slowest / TARGET_MS) * 100) / 100,
    targetMax: 1,
  });
} finally {
  if (engine) await engine.close();
  else store.close();
  await Deno.remove(dir, { recursive: true });
}
