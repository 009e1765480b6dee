/**
 * Config reload without a restart (app/reload.ts): real MLLP senders and receivers, a real KV
 * file, the config file rewritten between reloads, `POST /admin/config/reload` over HTTP.
 */

import assert from "node:assert/strict";
import type { Config } from "../../actors/config/mod.ts";
import { listLogs } from "../../actors/store/mod.ts";
import { configFrom, startEngine, type TestEngine } from "../helpers/engine.ts";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { controlIds, delay, type RawReceiver, startReceiver } from "../helpers/receivers.ts";
import { tempDir } from "../helpers/temp.ts";

type Json = Record<string, unknown>;

/** The config as JSON: one MLLP feed on `port`, MLLP destinations by id → port, subscriptions. */
function configJson(
  kv: string,
  o: {
    ports?: number[];
    destinations: Record<string, number>;
    subscriptions: string[][];
  },
): Json {
  const ports = o.ports ?? [0];
  return {
    node: { id: "test" },
    kv: { path: kv },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    listeners: ports.map((port) => ({ port, hostname: "127.0.0.1" })),
    integrations: ports.map((port, i) => ({
      id: i === 0 ? "feed" : `feed${i}`,
      environment: "dev",
      mllp: { port, allowedIps: ["127.0.0.1"] },
    })),
    destinations: Object.entries(o.destinations).map(([id, port]) => ({
      id,
      environment: "dev",
      mllp: { host: "127.0.0.1", port },
    })),
    subscriptions: o.subscriptions.map((to) => ({ from: { integration: "feed" }, to })),
  };
}

const parsed = (json: Json): Config => configFrom(json);

interface Rig {
  e: TestEngine;
  dir: string;
  file: string;
  token: string;
  write(json: Json | string): Promise<void>;
  reload(): Promise<{ status: number; body: Json }>;
  admin(path: string): Promise<Json>;
  close(): Promise<void>;
}

async function rig(json: Json, dir: string): Promise<Rig> {
  const file = `${dir}/engine.json`;
  const write = (j: Json | string) =>
    Deno.writeTextFile(file, typeof j === "string" ? j : JSON.stringify(j, null, 2));
  await write(json);
  const e = await startEngine(parsed(json), { http: true, configFile: file });
  const token = (await Deno.readTextFile(`${dir}/admin.token`)).trim();
  const headers = { authorization: `Bearer ${token}` };
  return {
    e,
    dir,
    file,
    token,
    write,
    async reload() {
      const res = await fetch(`${e.base}/admin/config/reload`, { method: "POST", headers });
      return { status: res.status, body: await res.json() };
    },
    async admin(path) {
      const res = await fetch(`${e.base}${path}`, { headers });
      assert.equal(res.status, 200);
      return await res.json();
    },
    close: () => e.close(),
  };
}

/** A receiver answering AA, after `delayMs` each. */
function receiver(delayMs = 0): RawReceiver {
  return startReceiver(async (f) => {
    if (delayMs > 0) await delay(delayMs);
    await f.ack("AA");
  });
}

Deno.test("reload under load: a subscription added and a destination's port changed lose nothing and keep order", async () => {
  await using dir = await tempDir({ prefix: "reload-" });
  const a = receiver();
  // b's first address is slow: its queue is not empty when it moves.
  const b1 = receiver(15);
  const b2 = receiver();
  const c = receiver();
  const v1 = configJson(`${dir.path}/engine.kv`, {
    destinations: { a: a.port, b: b1.port },
    subscriptions: [["a"], ["b"]],
  });
  const r = await rig(v1, dir.path);
  const sender = await RawMllpSender.connect(r.e.mllpPort);
  try {
    const before = await r.admin("/admin/config");
    assert.equal(before.generation, 1);
    const ids = Array.from({ length: 150 }, (_, i) => `M${String(i).padStart(4, "0")}`);
    let sent = 0;
    const sending = (async () => {
      for (const id of ids) {
        const ack = summarizeAck(await sender.request(adt(id)));
        assert.equal(ack.code, "AA", `${id}: ${JSON.stringify(ack)}`);
        sent++;
      }
    })();
    await waitFor("40 messages accepted", () => sent >= 40);
    await r.write(configJson(`${dir.path}/engine.kv`, {
      destinations: { a: a.port, b: b2.port, c: c.port },
      subscriptions: [["a"], ["b"], ["c"]],
    }));
    const reloaded = await r.reload();
    assert.equal(reloaded.status, 200, JSON.stringify(reloaded.body));
    assert.equal(reloaded.body.changed, true);
    const applied = reloaded.body.applied as string[];
    assert.ok(applied.some((x) => x.startsWith("moved mllp-out:127.0.0.1:")), applied.join("; "));
    await sending;

    await waitFor("a has every message", () => a.frames.length >= ids.length, 30_000);
    await waitFor(
      "b has every message",
      () => b1.frames.length + b2.frames.length >= ids.length,
      30_000,
    );
    assert.deepEqual(controlIds(a), ids);
    // FIFO across the move: the old address's share, then the new one's, nothing twice.
    assert.deepEqual([...controlIds(b1), ...controlIds(b2)], ids);
    assert.ok(b2.frames.length > 0 && b1.frames.length > 0);
    // c gets the messages from the reload on, in order, up to the last one.
    await waitFor("c has the last message", () => controlIds(c).includes(ids.at(-1)!), 30_000);
    const got = controlIds(c);
    assert.deepEqual(got, ids.slice(ids.indexOf(got[0]!)));

    const after = await r.admin("/admin/config");
    assert.equal(after.generation, 2);
    assert.notEqual(after.hash, before.hash);
    // Each log records the version it was routed under.
    const logs = (await listLogs(r.e.engine.store.kv, { limit: 1000 })).logs;
    const versions = new Set(logs.map((l) => l.configVersion));
    assert.ok(
      versions.has(`${before.hash}@1`) && versions.has(`${after.hash}@2`),
      [...versions].join(),
    );
    assert.ok(logs.every((l) => l.configVersion !== undefined));
  } finally {
    await sender.close();
    await r.close();
    await Promise.all([a, b1, b2, c].map((x) => x.close()));
  }
});

Deno.test("reload of an invalid config changes nothing and answers every problem with its path", async () => {
  await using dir = await tempDir({ prefix: "reload-" });
  const a = receiver();
  const v1 = configJson(`${dir.path}/engine.kv`, {
    destinations: { a: a.port },
    subscriptions: [["a"]],
  });
  const r = await rig(v1, dir.path);
  try {
    const before = await r.admin("/admin/config");
    const bad = configJson(`${dir.path}/engine.kv`, {
      destinations: { a: a.port },
      subscriptions: [["a"], ["nowhere"]],
    });
    (bad.destinations as Json[])[0]!.mllp = { host: "127.0.0.1", port: "x" };
    await r.write(bad);
    const refused = await r.reload();
    assert.equal(refused.status, 400);
    const paths = (refused.body.problems as { path: string }[]).map((p) => p.path);
    assert.ok(paths.some((p) => p.includes("destinations[0].mllp.port")), paths.join());
    assert.ok(paths.length >= 2, paths.join());
    await r.write("{ not json");
    const unreadable = await r.reload();
    assert.equal(unreadable.status, 400);
    assert.ok((unreadable.body.problems as unknown[]).length >= 1);
    assert.deepEqual(await r.admin("/admin/config"), before);
    // Still routing under the old config.
    const sender = await RawMllpSender.connect(r.e.mllpPort);
    try {
      assert.equal(summarizeAck(await sender.request(adt("S1"))).code, "AA");
    } finally {
      await sender.close();
    }
    await waitFor("a has S1", () => controlIds(a).includes("S1"));
  } finally {
    await r.close();
    await a.close();
  }
});

Deno.test("reload refuses to remove a destination whose queue is not empty, naming it and its depth", async () => {
  await using dir = await tempDir({ prefix: "reload-" });
  const down = freePort(); // nothing listens: its queue stays
  const v1 = configJson(`${dir.path}/engine.kv`, {
    destinations: { gone: down },
    subscriptions: [["gone"]],
  });
  const r = await rig(v1, dir.path);
  try {
    const sender = await RawMllpSender.connect(r.e.mllpPort);
    try {
      for (const id of ["Q1", "Q2"]) {
        assert.equal(summarizeAck(await sender.request(adt(id))).code, "AA");
      }
    } finally {
      await sender.close();
    }
    const queue = `mllp-out:127.0.0.1:${down}`;
    await waitFor("2 queued", async () => await r.e.engine.store.depth(queue) === 2);
    await r.write(configJson(`${dir.path}/engine.kv`, { destinations: {}, subscriptions: [] }));
    const refused = await r.reload();
    assert.equal(refused.status, 409);
    const [problem] = refused.body.problems as { path: string; message: string }[];
    assert.equal(problem!.path, "$.destinations[0]");
    assert.match(problem!.message, /destination gone still has 2 queued messages/);
    assert.equal((await r.admin("/admin/config")).generation, 1);
  } finally {
    await r.close();
  }
});

Deno.test("reload opens a new MLLP listener and closes a removed one; the other's connection stays up", async () => {
  await using dir = await tempDir({ prefix: "reload-" });
  const a = receiver();
  const second = freePort();
  const v1 = configJson(`${dir.path}/engine.kv`, {
    destinations: { a: a.port },
    subscriptions: [["a"]],
  });
  const r = await rig(v1, dir.path);
  const kept = await RawMllpSender.connect(r.e.mllpPort);
  try {
    assert.equal(summarizeAck(await kept.request(adt("K1"))).code, "AA");
    // port 0 in the file stays the port it was bound to.
    await r.write(
      configJson(`${dir.path}/engine.kv`, {
        ports: [0, second],
        destinations: { a: a.port },
        subscriptions: [["a"]],
      }),
    );
    const added = await r.reload();
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.ok((added.body.applied as string[]).includes(`listening on MLLP port ${second}`));
    const fresh = await RawMllpSender.connect(second);
    try {
      assert.equal(summarizeAck(await fresh.request(adt("N1"))).code, "AA");
    } finally {
      await fresh.close();
    }
    await r.write(v1);
    const removed = await r.reload();
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.ok((removed.body.applied as string[]).includes(`closed MLLP port ${second}`));
    // What else the reload did is said too: the integration it removed, in the answer and the log.
    assert.ok((removed.body.applied as string[]).includes("removed integration feed1"));
    const reloaded = r.e.log.lines.filter((l) => l.includes(" config.reloaded "));
    assert.match(reloaded.at(-1) ?? "", /closed MLLP port/);
    assert.match(reloaded.at(-1) ?? "", /removed integration feed1/);
    await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port: second }));
    // The first port's connection was never touched.
    assert.equal(summarizeAck(await kept.request(adt("K2"))).code, "AA");
    assert.equal((await r.admin("/admin/config")).generation, 3);
  } finally {
    await kept.close();
    await r.close();
    await a.close();
  }
});
