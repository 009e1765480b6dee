/**
 * Scale-out throughput: aggregate delivered msg/s with 1, 2 and 3 engine processes
 * (`main.ts serve`, child processes) sharing one KV — a KV file, then the KV Connect test server
 * (tests/helpers/kv_connect_server.ts, a process of its own) — with many MLLP destinations
 * (tests/helpers/cluster_peer.ts, ACK after 1 ms) fed by 20 feeds, each message fanned out to
 * `destinations / 20` of them. Senders keep one message in flight per feed for the whole run;
 * after a warm-up, the frames the destinations get in a fixed window are counted, and each node's
 * `engine_kv_commits_total` / `engine_kv_writes_total` (`/metrics`) are read before and after, so
 * the table shows the commit rate the cluster reaches: on one host every process shares KV's one
 * writer (SQLite for a file, the server's local KV behind KV Connect), so the aggregate is bounded
 * by the commit rate, not by the node count. With 3 nodes, one is then killed (SIGKILL) under load
 * and the time until each of its destinations gets a frame from a survivor is the takeover time
 * (default `cluster.leaseSeconds`, 10 s).
 *
 * Run: `deno run -A bench/cluster.ts [destinations=1000] [windowSeconds=6]` (or
 * `deno task bench cluster`). About 3 minutes. Loopback only. Prints tables, then one JSON line.
 * @module
 */

import { adt, freePort } from "../tests/helpers/net.ts";
import { firstLine } from "../tests/helpers/child_output.ts";
import { RawMllpSender } from "../tests/helpers/raw_sender.ts";
import { type ClusterPeer, startClusterPeer } from "../tests/helpers/cluster_peer.ts";
import { engineV8Flags, median, printJson, printLine, printTable } from "./harness.ts";

const DESTINATIONS = Number(Deno.args[0] ?? 1000);
const WINDOW_MS = Number(Deno.args[1] ?? 5) * 1000;
const FEEDS = 20;
const WARMUP_MS = 3000;
/** No configuration starts after this (ms from the start); nor a takeover 10 s after it. */
const BUDGET_MS = 150_000;
const ADMIN = "bench-cluster-admin-0123456789";
const KV_TOKEN = "bench-cluster-kv-token-0123456789";
const ROOT = new URL("../", import.meta.url).pathname;
const started = performance.now();

const taken = new Set<number>();
/** A free port not handed out before in this run. */
function uniquePort(): number {
  for (let i = 0; i < 1000; i++) {
    const p = freePort();
    if (!taken.has(p)) {
      taken.add(p);
      return p;
    }
  }
  throw new Error("no free port");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children = new Set<Deno.ChildProcess>();

function spawn(args: string[], env: Record<string, string>): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  children.add(child);
  child.status.finally(() => children.delete(child));
  return child;
}

function killAll(): void {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }
}

interface Node {
  id: string;
  child: Deno.ChildProcess;
  feedPorts: number[];
  httpPort: number;
  output: () => string;
  exited: Promise<Deno.CommandStatus>;
}

/** Collects a child's output (the last 4 kB) so that its pipes never fill. */
function collect(child: Deno.ChildProcess): { output: () => string; drained: Promise<unknown> } {
  let out = "";
  const drained = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) out = (out + c).slice(-4000);
  }));
  return { output: () => out, drained };
}

async function startNode(id: string, dir: string, kvPath: string, peer: ClusterPeer) {
  const feedPorts = Array.from({ length: FEEDS }, () => uniquePort());
  const httpPort = uniquePort();
  const per = DESTINATIONS / FEEDS;
  const config = {
    node: { id },
    kv: { path: kvPath, ...(kvPath.startsWith("http") ? { accessToken: { env: "KV_T" } } : {}) },
    cluster: { address: `http://127.0.0.1:${httpPort}` },
    http: { port: httpPort, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    listeners: feedPorts.map((port) => ({ port, hostname: "127.0.0.1" })),
    integrations: feedPorts.map((port, f) => ({
      id: `feed${f}`,
      environment: "dev",
      mllp: { port, allowedIps: ["127.0.0.1"] },
    })),
    destinations: peer.ports.map((port, d) => ({
      id: `dest${d}`,
      environment: "dev",
      mllp: { host: "127.0.0.1", port, ackTimeoutSeconds: 10 },
    })),
    subscriptions: Array.from({ length: FEEDS }, (_, f) => ({
      from: { integration: `feed${f}` },
      to: Array.from({ length: per }, (_, k) => `dest${f * per + k}`),
    })),
  };
  const file = `${dir}/${id}.json`;
  await Deno.writeTextFile(file, JSON.stringify(config));
  const args = [
    "run",
    "-A",
    "--no-check",
    ...engineV8Flags(),
    "main.ts",
    "serve",
    "--config",
    file,
  ];
  const child = spawn(args, {
    ADMIN_T: ADMIN,
    KV_T: KV_TOKEN,
  });
  const { output, drained } = collect(child);
  const node: Node = {
    id,
    child,
    feedPorts,
    httpPort,
    output,
    exited: child.status.then(async (s) => (await drained, s)),
  };
  return node;
}

function end(node: Node, signal: Deno.Signal): Promise<Deno.CommandStatus> {
  try {
    node.child.kill(signal);
  } catch { /* exited */ }
  return node.exited;
}

async function liveNodes(node: Node): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}/admin/nodes`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  }).catch(() => undefined);
  if (!res?.ok) {
    await res?.body?.cancel();
    return 0;
  }
  const body = await res.json() as { nodes: { live: boolean }[] };
  return body.nodes.filter((n) => n.live).length;
}

/** `engine_kv_commits_total` and `engine_kv_writes_total` of a node (zeros if unreachable). */
async function commits(node: Node): Promise<{ commits: number; writes: number }> {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`).catch(() => undefined);
  const text = res?.ok ? await res.text() : (await res?.body?.cancel(), "");
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { commits: read("engine_kv_commits_total"), writes: read("engine_kv_writes_total") };
}

/** Every node's commit counters, summed, and when the last answer arrived. */
async function snapshot(nodes: Node[]): Promise<{ at: number; commits: number; writes: number }> {
  const all = await Promise.all(nodes.map(commits));
  return {
    at: performance.now(),
    commits: all.reduce((n, x) => n + x.commits, 0),
    writes: all.reduce((n, x) => n + x.writes, 0),
  };
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, ms: number) {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Feeds send through `nodes` (feed f through node f mod n), one message in flight each. */
function load(nodes: Node[], tag: string): { stop: () => Promise<number> } {
  let stopped = false;
  let acked = 0;
  const feeds = Array.from({ length: FEEDS }, async (_, f) => {
    const node = nodes[f % nodes.length]!;
    let sender: RawMllpSender | undefined;
    try {
      sender = await RawMllpSender.connect(node.feedPorts[f]!);
      for (let i = 0; !stopped; i++) {
        await sender.request(adt(`${tag}F${f}N${i}`), 30_000);
        acked++;
      }
    } catch {
      /* node gone or stopping: this feed stops */
    } finally {
      await sender?.close().catch(() => {});
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(feeds);
      return acked;
    },
  };
}

interface Row {
  kv: string;
  nodes: number;
  delivered: number;
  perSecond: number;
  intakePerSecond: number;
  commitsPerSecond: number;
  writesPerSecond: number;
  writesPerCommit: number;
  /** Takeover after SIGKILL of one node (3 nodes only): median and max ms, and count. */
  takeover?: { medianMs: number; maxMs: number; destinations: number; resumed: number };
}

const frameCount = (peer: ClusterPeer) => peer.frames.reduce((n, fs) => n + fs.length, 0);

async function run(kv: string, count: number, kvPath: string, dir: string): Promise<Row> {
  const peer = startClusterPeer(DESTINATIONS, 1);
  const nodes: Node[] = [];
  try {
    for (let i = 1; i <= count; i++) nodes.push(await startNode(`n${i}`, dir, kvPath, peer));
    peer.pids = nodes.map((n) => n.child.pid);
    const t = performance.now();
    await waitUntil(
      `${count} live nodes`,
      async () => (await liveNodes(nodes[0]!)) === count,
      60_000,
    )
      .catch((e) => {
        throw new Error(`${e.message}\n${nodes.map((n) => n.output()).join("\n---\n")}`);
      });
    printLine(`  ${count} node(s) live after ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const tag = `${kv}${count}`;
    const loadStart = performance.now();
    const sending = load(nodes, tag);
    await sleep(WARMUP_MS);
    const f0 = frameCount(peer);
    const t0 = performance.now();
    // /metrics reads every actor's queue (seconds with 1,000 actors): the commit counters are
    // read at the end of each answer, so their rate is taken between the answers' arrivals, both
    // under load, beside the delivery window rather than inside it.
    const before = snapshot(nodes);
    await sleep(WINDOW_MS);
    const f1 = frameCount(peer);
    const seconds = (performance.now() - t0) / 1000;
    const [b, a] = await Promise.all([before, snapshot(nodes)]);
    const acked = await sending.stop();
    const span = (a.at - b.at) / 1000;
    const c = a.commits - b.commits;
    const w = a.writes - b.writes;
    const row: Row = {
      kv,
      nodes: count,
      delivered: f1 - f0,
      perSecond: (f1 - f0) / seconds,
      intakePerSecond: acked / ((performance.now() - loadStart) / 1000),
      commitsPerSecond: span > 0.5 ? c / span : NaN,
      writesPerSecond: span > 0.5 ? w / span : NaN,
      writesPerCommit: c ? w / c : 0,
    };
    if (count === 3 && performance.now() - started < BUDGET_MS + 10_000) {
      row.takeover = await takeover(nodes, peer, tag);
    }
    return row;
  } finally {
    // Each run has a KV of its own, thrown away after: no clean stop needed (it takes seconds).
    await Promise.all(nodes.map((n) => end(n, "SIGKILL")));
    await peer.close();
  }
}

/** SIGKILLs the last node under load; ms until each of its destinations hears from another. */
async function takeover(nodes: Node[], peer: ClusterPeer, tag: string) {
  const victim = nodes.at(-1)!;
  const survivors = nodes.slice(0, -1);
  const sending = load(survivors, `${tag}K`);
  await sleep(1000);
  const pid = victim.child.pid;
  const since = Date.now() - 3000;
  const theirs = peer.frames.flatMap((fs, d) =>
    fs.some((f) => f.pid === pid && f.at >= since) ? [d] : []
  );
  const killedAt = Date.now();
  await end(victim, "SIGKILL");
  const firstElsewhere = (d: number) =>
    peer.frames[d]!.find((f) => f.at >= killedAt && f.pid !== pid && f.pid !== 0);
  await waitUntil("takeover", () => theirs.every((d) => firstElsewhere(d)), 25_000)
    .catch(() => {/* reported as fewer resumed */});
  await sending.stop();
  const ms = theirs.flatMap((d) => {
    const f = firstElsewhere(d);
    return f ? [f.at - killedAt] : [];
  });
  return {
    medianMs: median(ms),
    maxMs: ms.length ? Math.max(...ms) : NaN,
    destinations: theirs.length,
    resumed: ms.length,
  };
}

/** Starts the KV Connect test server as a process of its own; its URL and the child. */
async function kvConnect(dir: string): Promise<{ url: string; child: Deno.ChildProcess }> {
  const child = spawn(
    ["run", "-A", "--no-check", "tests/helpers/kv_connect_server.ts", `${dir}/remote.kv`, KV_TOKEN],
    {},
  );
  const seen = await firstLine(child.stdout, "the KV Connect server");
  child.stderr.cancel().catch(() => {});
  const port = /^kv-connect listening (\d+)$/.exec(seen)?.[1];
  if (!port) throw new Error(`the KV Connect server said "${seen}", not its port`);
  return { url: `http://127.0.0.1:${port}`, child };
}

const guard = setTimeout(() => {
  printLine("cluster: over the time budget, stopping");
  killAll();
  Deno.exit(1);
}, BUDGET_MS + 60_000);

const rows: Row[] = [];
try {
  for (const kv of ["file", "kv-connect"]) {
    for (const count of [1, 2, 3]) {
      if (performance.now() - started > BUDGET_MS) {
        printLine(`cluster: time budget spent; ${kv} with ${count} nodes skipped`);
        continue;
      }
      const dir = await Deno.makeTempDir({ prefix: `bench-cluster-${kv}-${count}-` });
      let server: { url: string; child: Deno.ChildProcess } | undefined;
      try {
        const kvPath = kv === "file" ? `${dir}/engine.kv` : (server = await kvConnect(dir)).url;
        printLine(`cluster: ${kv}, ${count} node(s), ${DESTINATIONS} destinations…`);
        const t0 = performance.now();
        rows.push(await run(kv, count, kvPath, dir));
        printLine(`  ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      } finally {
        if (server) {
          server.child.kill("SIGTERM");
          await server.child.status;
        }
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }
  }
  printLine();
  printTable(
    ["kv", "nodes", "delivered/s", "intake/s", "commits/s", "writes/s", "writes/commit"],
    rows.map((r) => [
      r.kv,
      r.nodes,
      Math.round(r.perSecond),
      Math.round(r.intakePerSecond),
      Math.round(r.commitsPerSecond),
      Math.round(r.writesPerSecond),
      r.writesPerCommit,
    ]),
  );
  printLine();
  printTable(
    ["kv", "takeover after SIGKILL: median ms", "max ms", "destinations resumed"],
    rows.filter((r) => r.takeover).map((r) => [
      r.kv,
      Math.round(r.takeover!.medianMs),
      Math.round(r.takeover!.maxMs),
      `${r.takeover!.resumed}/${r.takeover!.destinations}`,
    ]),
  );
  const scaling = Object.fromEntries(["file", "kv-connect"].map((kv) => {
    const one = rows.find((r) => r.kv === kv && r.nodes === 1)?.perSecond ?? NaN;
    const three = rows.find((r) => r.kv === kv && r.nodes === 3)?.perSecond ?? NaN;
    // On one host the nodes share KV's one writer: three nodes against one.
    return [kv, { oneNode: one, threeNodes: three, ratio: three / one }];
  }));
  printLine(
    `window ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s of warm-up; ${FEEDS} feeds, ` +
      `each message to ${DESTINATIONS / FEEDS} destinations; lease 10 s (default)`,
  );
  printJson({ bench: "cluster", destinations: DESTINATIONS, feeds: FEEDS, rows, scaling });
} finally {
  clearTimeout(guard);
  killAll();
}
