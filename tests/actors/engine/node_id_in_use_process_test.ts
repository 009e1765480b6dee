/**
 * One process per node id over KV Connect, for real: `main.ts serve` processes sharing the KV
 * Connect test server (no file, so no OS lock) with one config copied as is (same `node.id`). A
 * second process is refused (exit 1, one ERROR `cluster.node-id-in-use` and what to do) while the
 * first runs; once the first is killed, the next starts after watching its record for a heartbeat
 * plus margin; once that one stopped cleanly, the next starts without waiting.
 */

import assert from "node:assert/strict";
import { freePort, waitFor } from "../../helpers/net.ts";
import { type KvConnectServer, startKvConnectServer } from "../../helpers/kv_connect_server.ts";
import { tempDir } from "../../helpers/temp.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const KV_TOKEN = "node-id-kv-token-0123456789";
const ADMIN = "node-id-admin-token-0123456789";

interface Serve {
  child: Deno.ChildProcess;
  output: () => string;
  exited: Promise<Deno.CommandStatus>;
}

/** `main.ts serve` with `node.id` "n1" on `kvUrl`, HTTP on a port of its own. */
async function serve(dir: string, kvUrl: string, name: string): Promise<Serve> {
  const cfg = `${dir}/${name}.json`;
  await Deno.writeTextFile(
    cfg,
    JSON.stringify({
      node: { id: "n1" },
      kv: { path: kvUrl, accessToken: { env: "KV_T" } },
      cluster: { leaseSeconds: 3 },
      http: { port: freePort(), hostname: "127.0.0.1", development: true },
      admin: { token: { env: "ADMIN_T" } },
    }),
  );
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
  return { child, output: () => out, exited: child.status.then(async (s) => (await drained, s)) };
}

/**
 * Resolves once `p` started (`engine.allocator`: its last line before it listens for SIGTERM);
 * fails (with its output) if it exits first.
 */
async function started(p: Serve, what: string): Promise<void> {
  let exited: Deno.CommandStatus | undefined;
  p.exited.then((s) => exited = s);
  await waitFor(what, () => {
    if (exited) throw new Error(`${what}: exited ${exited.code}\n${p.output()}`);
    return p.output().includes("engine.allocator");
  }, 60_000).catch((e) => {
    throw new Error(`${e.message}\n${p.output()}`);
  });
}

function kill(p: Serve, signal: Deno.Signal): Promise<Deno.CommandStatus> {
  try {
    p.child.kill(signal);
  } catch { /* exited */ }
  return p.exited;
}

Deno.test({
  name:
    "over KV Connect a copied config's second process is refused while the first runs; starts after the wait once it was killed, at once after a clean stop",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using dir = await tempDir({ prefix: "node-id-in-use-" });
    let server: KvConnectServer | undefined;
    const all: Serve[] = [];
    try {
      server = await startKvConnectServer({ path: `${dir.path}/remote.kv`, accessToken: KV_TOKEN });
      const first = await serve(dir.path, server.url, "first");
      all.push(first);
      await started(first, "the first process started");

      const second = await serve(dir.path, server.url, "second");
      all.push(second);
      let secondStarted = false;
      const status = await Promise.race([
        second.exited,
        waitFor("", () => second.output().includes("engine.started"), 60_000).then(() => {
          secondStarted = true;
        }),
      ]);
      assert.ok(!secondStarted, `the second process started:\n${second.output()}`);
      assert.equal((status as Deno.CommandStatus).code, 1, second.output());
      const errors = second.output().split("\n").filter((l) =>
        l.includes("cluster.node-id-in-use")
      );
      assert.equal(errors.length, 1, second.output());
      assert.match(errors[0]!, /ERROR/);
      assert.match(second.output(), /node\.id "n1" is in use by another running engine/);
      assert.match(second.output(), /its own node\.id/);
      assert.ok(!first.output().includes("cluster.node-id-in-use"), first.output());

      // Killed: its record stays as it left it; the next one watches it, then starts.
      assert.equal((await kill(first, "SIGKILL")).signal, "SIGKILL");
      const third = await serve(dir.path, server.url, "third");
      all.push(third);
      await started(third, "the third process started after the first was killed");
      assert.match(third.output(), /INFO +cluster\.node-id-taken-over node=n1 waitedMs=\d+/);

      // A clean stop marks the record stopped: the next one starts without waiting.
      assert.equal((await kill(third, "SIGTERM")).code, 0, third.output());
      const fourth = await serve(dir.path, server.url, "fourth");
      all.push(fourth);
      await started(fourth, "the fourth process started after a clean stop");
      assert.ok(!fourth.output().includes("cluster.node-id-taken-over"), fourth.output());
      assert.equal((await kill(fourth, "SIGTERM")).code, 0, fourth.output());
    } finally {
      for (const p of all) await kill(p, "SIGKILL");
      await server?.close();
    }
  },
});
