/**
 * Scale-out for real: three `main.ts serve` processes on one KV — a KV file, and the KV Connect
 * test server — with many destinations and feeds, under load. One node is killed (SIGKILL), then
 * another frozen (SIGSTOP) past its lease and resumed (SIGCONT). Every acknowledged message is
 * delivered to each of its destinations, in order per feed and destination, never two in flight to
 * one destination, duplicates bounded by what was in flight; the frozen node sends nothing more on
 * the connections it had once it wakes; each takeover's time is measured.
 */

import assert from "node:assert/strict";
import { adt, freePort, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { type ClusterPeer, startClusterPeer } from "../../helpers/cluster_peer.ts";
import { type KvConnectServer, startKvConnectServer } from "../../helpers/kv_connect_server.ts";
import { tempDir } from "../../helpers/temp.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const ADMIN = "cluster-admin-token-0123456789";
const KV_TOKEN = "cluster-kv-token-0123456789";
/** Seconds of lease: short so the test stays bounded (takeover ≈ a lease). */
const LEASE_S = 3;

const taken = new Set<number>();
/** A free port not handed out before in this run (freePort alone may give one twice). */
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

interface Shape {
  destinations: number;
  feeds: number;
  /** Messages each feed sends per phase (three phases). */
  perPhase: number;
}

interface Node {
  id: string;
  child: Deno.ChildProcess;
  feedPorts: number[];
  httpPort: number;
  output: () => string;
  exited: Promise<Deno.CommandStatus>;
}

function nodeConfig(id: string, kvPath: string, shape: Shape, peer: ClusterPeer, node: Node) {
  const per = shape.destinations / shape.feeds;
  return {
    node: { id },
    kv: { path: kvPath, ...(kvPath.startsWith("http") ? { accessToken: { env: "KV_T" } } : {}) },
    cluster: { leaseSeconds: LEASE_S, address: `http://127.0.0.1:${node.httpPort}` },
    http: { port: node.httpPort, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    listeners: node.feedPorts.map((port) => ({ port, hostname: "127.0.0.1" })),
    integrations: node.feedPorts.map((port, f) => ({
      id: `feed${f}`,
      environment: "dev",
      mllp: { port, allowedIps: ["127.0.0.1"] },
    })),
    destinations: peer.ports.map((port, d) => ({
      id: `dest${d}`,
      environment: "dev",
      mllp: { host: "127.0.0.1", port, ackTimeoutSeconds: 5 },
    })),
    subscriptions: Array.from({ length: shape.feeds }, (_, f) => ({
      from: { integration: `feed${f}` },
      to: Array.from({ length: per }, (_, k) => `dest${f * per + k}`),
    })),
  };
}

async function startNode(
  id: string,
  dir: string,
  kvPath: string,
  shape: Shape,
  peer: ClusterPeer,
): Promise<Node> {
  const feedPorts = Array.from({ length: shape.feeds }, () => uniquePort());
  const partial = { id, feedPorts, httpPort: uniquePort() } as Node;
  const cfg = `${dir}/${id}.json`;
  await Deno.writeTextFile(cfg, JSON.stringify(nodeConfig(id, kvPath, shape, peer, partial)));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "main.ts", "serve", "--config", cfg],
    cwd: ROOT,
    env: { ADMIN_T: ADMIN, KV_T: KV_TOKEN, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const drained = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const c of s.pipeThrough(new TextDecoderStream())) out += c;
  }));
  const node: Node = {
    ...partial,
    child,
    output: () => out,
    exited: child.status.then(async (s) => (await drained, s)),
  };
  return node;
}

function end(node: Node, signal: Deno.Signal): Promise<Deno.CommandStatus> {
  try {
    node.child.kill("SIGCONT");
    node.child.kill(signal);
  } catch { /* exited */ }
  return node.exited;
}

/** Resolves once `pid` is stopped (state `T` in /proc/<pid>/stat): `kill` only sends the signal. */
async function stopped(pid: number): Promise<void> {
  await waitFor(`process ${pid} stopped`, async () => {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("T");
  }, 10_000);
}

/**
 * SIGSTOPs `node` at a moment it does not hold SQLite's write lock on the local KV file `kvPath`
 * (in /proc/locks, the WAL write lock is byte 120 of the `-shm` file). A process frozen inside a
 * write transaction stalls every process on the file until it resumes, and no other process can
 * break that lock (README, Scale-out): the nodes then answer `AE`, which
 * `tests/robustness/kv_write_lock_test.ts` checks. Over KV Connect there is no such lock. Returns
 * how many tries it took.
 */
async function freezeOutsideWriteLock(node: Node, kvPath: string): Promise<number> {
  const pid = node.child.pid;
  if (kvPath.startsWith("http")) {
    node.child.kill("SIGSTOP");
    await stopped(pid);
    return 1;
  }
  const { ino } = await Deno.stat(`${kvPath}-shm`);
  const holds = new RegExp(`^\\d+: POSIX +ADVISORY +WRITE +${pid} +\\S+:${ino} 120 120$`, "m");
  for (let tries = 1; tries <= 200; tries++) {
    node.child.kill("SIGSTOP");
    await stopped(pid);
    if (!holds.test(await Deno.readTextFile("/proc/locks"))) return tries;
    node.child.kill("SIGCONT");
    // Let it finish that commit before the next try.
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
  }
  throw new Error(`${node.id} held the KV file's write lock at each of 200 tries to freeze it`);
}

async function liveNodes(node: Node): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}/admin/nodes`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  }).catch(() => undefined);
  if (!res?.ok) {
    await res?.body?.cancel();
    return [];
  }
  const body = await res.json() as { nodes: { id: string; live: boolean }[] };
  return body.nodes.filter((n) => n.live).map((n) => n.id);
}

/** How long a sender waits for each ACK. */
const ACK_PATIENCE_MS = 45_000;

/**
 * Sends `perPhase` messages per feed, each feed through one node of `nodes` (as a sender behind a
 * load balancer keeps its connection; a feed moves to a survivor when its node is gone); every
 * one must get AA.
 */
async function sendPhase(nodes: Node[], shape: Shape, phase: number, acked: string[][]) {
  await Promise.all(Array.from({ length: shape.feeds }, async (_, f) => {
    const node = nodes[f % nodes.length]!;
    const port = node.feedPorts[f]!;
    const sender = await RawMllpSender.connect(port);
    try {
      for (let i = 0; i < shape.perPhase; i++) {
        const id = `F${f}P${phase}N${String(i).padStart(4, "0")}`;
        const where = `${id} to ${node.id} port ${port}`;
        const sentAt = Date.now();
        // As patient as the test's other waits: three engines and the suite's other files share
        // two cores, and an ACK waits for SQLite's one write lock in turn on the shared file.
        const reply = await sender.request(adt(id), ACK_PATIENCE_MS).catch((e) => {
          throw new Error(`${where}: no ACK after ${Date.now() - sentAt} ms: ${e.message}`);
        });
        const ack = summarizeAck(reply);
        assert.equal(
          ack.code,
          "AA",
          `${where}: ${ack.code} after ${Date.now() - sentAt} ms (${ack.reason ?? "no reason"})`,
        );
        acked[f]!.push(id);
      }
    } finally {
      await sender.close();
    }
  }));
}

/** Destinations whose frames came from `pid`. */
function destinationsOf(peer: ClusterPeer, pid: number): number[] {
  return peer.frames.flatMap((fs, d) => fs.some((f) => f.pid === pid) ? [d] : []);
}

/** For each destination in `ds`: ms from `t0` to its first frame from another process after t0. */
function takeoverMs(peer: ClusterPeer, ds: number[], pid: number, t0: number): number[] {
  return ds.flatMap((d) => {
    const f = peer.frames[d]!.find((x) => x.at >= t0 && x.pid !== pid && x.pid !== 0);
    return f ? [f.at - t0] : [];
  });
}

async function scenario(name: string, shape: Shape, kv: (dir: string) => Promise<string>) {
  await using dir = await tempDir({ prefix: `cluster-${name}-` });
  const peer = startClusterPeer(shape.destinations, 2);
  const kvPath = await kv(dir.path);
  const nodes: Node[] = [];
  const report = (m: string) => Deno.stdout.writeSync(new TextEncoder().encode(`  ${m}\n`));
  try {
    for (const id of ["n1", "n2", "n3"]) {
      nodes.push(await startNode(id, dir.path, kvPath, shape, peer));
    }
    peer.pids = nodes.map((n) => n.child.pid);
    // Each node's warnings and errors first (a tail alone is mostly routine connection lines).
    const context = () =>
      nodes.map((n) => {
        const out = n.output();
        const notable = out.split("\n").filter((l) => / (WARN|ERROR) /.test(l)).slice(-30);
        return `--- ${n.id} (${notable.length} of its last warnings and errors, then its tail)\n` +
          `${notable.join("\n")}\n...\n${out.slice(-1200)}`;
      }).join("\n");
    await waitFor("three live nodes", async () => (await liveNodes(nodes[0]!)).length === 3, 60_000)
      .catch((e) => {
        throw new Error(`${e.message}\n${context()}`);
      });
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    const acked: string[][] = Array.from({ length: shape.feeds }, () => []);
    const per = shape.destinations / shape.feeds;
    const deliveredAll = (ids: string[][]) => () =>
      peer.frames.every((fs, d) => {
        const want = ids[Math.floor(d / per)]!;
        const got = new Set(fs.map((f) => f.controlId));
        return want.every((id) => got.has(id));
      });

    // Phase 1: load on all three; then SIGKILL n3 while deliveries are going on.
    const phase = (on: Node[], n: number) =>
      sendPhase(on, shape, n, acked).catch((e) => {
        throw new Error(`phase ${n}: ${e.message}\n${context()}`);
      });
    await phase(nodes, 1);
    await waitFor("some of n3's deliveries", () => destinationsOf(peer, n3.child.pid).length > 0)
      .catch((e) => {
        const pids = new Map<number, number>();
        for (const f of peer.frames.flat()) pids.set(f.pid, (pids.get(f.pid) ?? 0) + 1);
        throw new Error(`${e.message}: frames by pid ${[...pids]} of ${peer.pids}\n${context()}`);
      });
    const n3Dests = destinationsOf(peer, n3.child.pid);
    const killedAt = Date.now();
    assert.equal((await end(n3, "SIGKILL")).signal, "SIGKILL");
    // Phase 2 goes on through the survivors while they take over.
    await phase([n1, n2], 2);
    await waitFor("phases 1-2 delivered", deliveredAll(acked), 45_000).catch((e) => {
      throw new Error(`${e.message}\n${context()}`);
    });
    await peer.sendersKnown();
    const killTakeover = takeoverMs(peer, n3Dests, n3.child.pid, killedAt);

    // SIGSTOP n2 past its lease; n1 takes its destinations over; then SIGCONT.
    const n2Pid = n2.child.pid;
    const freezeTries = await freezeOutsideWriteLock(n2, kvPath);
    const frozenAt = Date.now();
    await phase([n1], 3);
    await waitFor("phase 3 delivered while n2 is frozen", deliveredAll(acked), 45_000)
      .catch((e) => {
        throw new Error(`${e.message}\n${context()}`);
      });
    await peer.sendersKnown();
    const n2Dests = destinationsOf(peer, n2Pid).filter((d) =>
      peer.frames[d]!.some((f) => f.pid === n2Pid && f.at < frozenAt)
    );
    const stopTakeover = takeoverMs(peer, n2Dests, n2Pid, frozenAt);
    const resumedAt0 = Date.now();
    // A frozen process writes nothing; what it wrote just before SIGSTOP may still be read by a
    // busy peer a little later: at most the one message in flight per destination. A second
    // frame from it on one destination during the freeze would be a send while frozen.
    const during = new Map<number, number>();
    peer.frames.forEach((fs, d) => {
      const late = fs.filter((f) => f.pid === n2Pid && f.at > frozenAt && f.at < resumedAt0);
      if (late.length > 0) during.set(d, late.length);
    });
    for (const [d, n] of during) {
      assert.ok(n <= 1, `destination ${d}: ${n} frames from the frozen node while frozen`);
    }
    const resumedAt = Date.now();
    n2.child.kill("SIGCONT");
    // n2 wakes, finds its leases gone (fenced), and rejoins; /admin/nodes answers again.
    await waitFor("n2 answering again", async () => (await liveNodes(n2)).length >= 2, 30_000);
    await waitFor(
      "n2 saw its leases expire",
      () => /actor\.lease-(expired|lost)/.test(n2.output()),
      30_000,
    );

    // Invariants.
    await peer.sendersKnown();
    assert.deepEqual(peer.overlaps, [], "never two messages in flight to one destination");
    const stale = peer.frames.flatMap((fs, d) =>
      fs.filter((f) => f.pid === n2Pid && f.at >= resumedAt && f.connectedAt < frozenAt)
        .map((f) => `${d}:${f.controlId}`)
    );
    assert.deepEqual(stale, [], "the frozen node sent nothing more on its old connections");
    let duplicates = 0;
    for (let d = 0; d < shape.destinations; d++) {
      const want = acked[Math.floor(d / per)]!;
      const first: string[] = [];
      const seen = new Set<string>();
      for (const f of peer.frames[d]!) {
        if (seen.has(f.controlId)) duplicates++;
        else {
          seen.add(f.controlId);
          first.push(f.controlId);
        }
      }
      assert.deepEqual(first, want, `destination ${d}: lost or out of order`);
    }
    // At most the messages in flight (one each) and completing (up to 64 each) at each failure.
    const bound = (n3Dests.length + n2Dests.length) * 65;
    assert.ok(duplicates <= bound, `${duplicates} duplicates (bound ${bound})`);
    assert.ok(
      killTakeover.length > 0 && stopTakeover.length > 0,
      `takeovers happened: kill ${killTakeover.length}/${n3Dests.length}, stop ${stopTakeover.length}/${n2Dests.length}`,
    );
    report(
      `${name}: ${shape.destinations} destinations, ${shape.feeds} feeds, ` +
        `${acked.flat().length} messages acknowledged, ${duplicates} duplicates; ` +
        `takeover after SIGKILL max ${Math.max(...killTakeover)} ms ` +
        `(${killTakeover.length}/${n3Dests.length}), after SIGSTOP max ` +
        `${
          Math.max(...stopTakeover)
        } ms (${stopTakeover.length}/${n2Dests.length}), frozen at try ${freezeTries}; ` +
        `lease ${LEASE_S} s`,
    );
    // A lease and a membership look, plus the poll: well within 15 s for the default 10 s lease.
    assert.ok(Math.max(...killTakeover) < LEASE_S * 1000 + 5000, `kill takeover ${killTakeover}`);
  } finally {
    await Promise.all(nodes.map((n) => end(n, "SIGTERM")));
    await peer.close();
  }
}

Deno.test({
  name:
    "three processes on one KV file: SIGKILL one, SIGSTOP/SIGCONT another — nothing lost, order kept, one in flight, the frozen node fenced",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    scenario(
      "kv-file",
      { destinations: 200, feeds: 20, perPhase: 4 },
      (dir) => Promise.resolve(`${dir}/engine.kv`),
    ),
});

Deno.test({
  name: "three processes on the KV Connect test server: the same failures, the same guarantees",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // The server's KV file outlives the scenario's folder: removed once the server closed it.
    await using remote = await tempDir({ prefix: "cluster-kv-connect-remote-" });
    let server: KvConnectServer | undefined;
    try {
      await scenario(
        "kv-connect",
        { destinations: 100, feeds: 10, perPhase: 4 },
        async () => {
          server = await startKvConnectServer({
            path: `${remote.path}/remote.kv`,
            accessToken: KV_TOKEN,
          });
          return server.url;
        },
      );
      assert.equal(server!.stats.tooManyChecks, 0);
    } finally {
      await server?.close();
    }
  },
});
