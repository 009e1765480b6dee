/**
 * Where operators look for queues no live node serves (a queue with messages whose actor no
 * running node's config builds has no actor anywhere, so it is in no actor list): `GET
 * /admin/actors` carries them in `unserved` (why and what to do, as `cluster.actor-unserved`
 * says), `GET /admin/actors/:id` says so in its 404, `/metrics` counts them past the grace with
 * their depths, and the console's actors page lists them. First over a real supervisor whose
 * grace runs on a manual lease clock, then through the whole engine (its grace: 10 s of real
 * time, not injectable).
 */

import assert from "node:assert/strict";
import { Secret } from "../../actors/config/secret.ts";
import { EngineMetrics } from "../../actors/engine/metrics.ts";
import { ManualClock } from "../../actors/runtime/clock.ts";
import { Cluster } from "../../actors/runtime/cluster.ts";
import { memoryLogger } from "../../actors/runtime/log.ts";
import { Supervisor } from "../../actors/runtime/supervisor.ts";
import { UNSERVED_HINT, UNSERVED_REASON } from "../../actors/runtime/supervisor_unserved.ts";
import { NodeRegistry } from "../../actors/store/nodes.ts";
import { Store } from "../../actors/store/mod.ts";
import { metricsText } from "../../app/metrics.ts";
import { createAdminApp } from "../../transports/http/mod.ts";
import { servePublic } from "../../transports/http/serve.ts";
import { startEngine } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";
import { enqueueAdt } from "../helpers/queue.ts";
import { tempDir } from "../helpers/temp.ts";
import { consoleConfig, signIn, TOKEN } from "../transports/http/console/fixture.ts";

const GRACE = 60_000;
/** A queue of port 2577, which no node's config has. */
const UNSERVED = "mllp-in:2577:127.0.0.1";
/** A queue of port 2575, which the node serves (its actor idles: the queue stays). */
const SERVED = "mllp-in:2575:127.0.0.1";

/** `GET path` with the admin token (or `auth`), as JSON with its status. */
async function getJson(
  base: string,
  path: string,
  auth: string | null = `Bearer ${TOKEN}`,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, { headers: auth ? { authorization: auth } : {} });
  return { status: res.status, json: await res.json() };
}

/** The value of the sample `series` (name and labels as written) in a `/metrics` text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("admin and metrics: a queue no node serves is in GET /admin/actors at once and, past the grace, in /metrics with its depth; a served one in neither", async () => {
  await using dir = await tempDir({ prefix: "unserved-admin-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "a" });
  for (const id of ["U-1", "U-2"]) await enqueueAdt(store, UNSERVED, id);
  await enqueueAdt(store, SERVED, "S-1");
  const clock = new ManualClock();
  const log = memoryLogger();
  const supervisor = new Supervisor({
    store,
    log,
    pollMs: 20,
    unservedGraceMs: GRACE,
    leaseClock: clock,
    leases: store.leases({ ttlMs: 10_000 }),
    cluster: new Cluster({
      registry: new NodeRegistry(store.kv),
      node: "a",
      leaseMs: 10_000,
      now: Date.now,
      ids: store.idGenerator,
      load: () => ({ actors: 0, load: 0 }),
      serves: () => ["mllp-in:2575:*"],
    }),
    factory: (id) =>
      id.startsWith("mllp-in:2575:")
        ? {
          id,
          kind: "mllp-in",
          run: (signal) => new Promise<void>((r) => signal.addEventListener("abort", () => r())),
          notify() {},
          status: () => Promise.resolve({ id, kind: "mllp-in", state: "idle" } as never),
          command: () => Promise.resolve({ ok: true } as never),
        }
        : undefined,
  });
  const admin = createAdminApp({
    supervisor,
    store,
    token: new Secret(TOKEN, "env:ENGINE_ADMIN_TOKEN"),
    log,
  });
  const server = await servePublic({
    fetch: admin.fetch,
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log,
  });
  const base = `http://127.0.0.1:${server.port}`;
  const metrics = new EngineMetrics(() => ({ integrations: [], destinations: [] }) as never);
  const text = () => metricsText(metrics, { supervisor, store }, []);
  try {
    await supervisor.start();

    // Within the grace: listed (not past it, not warned), counted nowhere yet.
    let r = await getJson(base, "/admin/actors");
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.unserved, [{
      actor: UNSERVED,
      queued: 2,
      since: "2026-01-01T00:00:00.000Z",
      forMs: 0,
      pastGrace: false,
      warned: false,
      reason: UNSERVED_REASON,
      hint: UNSERVED_HINT,
    }]);
    assert.equal(sample(await text(), "engine_unserved_queues"), 0);
    assert.equal(
      sample(await text(), `engine_unserved_queue_depth{actor="${UNSERVED}"}`),
      undefined,
    );

    clock.advance(GRACE);
    await waitFor("the warning", () => log.lines.some((l) => l.includes("actor-unserved")));
    r = await getJson(base, "/admin/actors");
    assert.equal(r.json.unserved.length, 1, JSON.stringify(r.json.unserved));
    const [u] = r.json.unserved;
    assert.equal(u.actor, UNSERVED);
    assert.equal(u.queued, 2);
    assert.equal(u.since, "2026-01-01T00:00:00.000Z", "since: ISO 8601 as every admin time");
    assert.equal(u.forMs, GRACE);
    assert.equal(u.pastGrace, true);
    assert.equal(u.warned, true);
    assert.ok(r.json.actors.some((a: { id: string }) => a.id === SERVED), "served: an actor");
    assert.ok(r.json.actors.every((a: { id: string }) => a.id !== UNSERVED), "unserved: no actor");

    const t = await text();
    assert.equal(sample(t, "engine_unserved_queues"), 1);
    assert.equal(sample(t, `engine_unserved_queue_depth{actor="${UNSERVED}"}`), 2);
    assert.equal(sample(t, `engine_unserved_queue_depth{actor="${SERVED}"}`), undefined);
    assert.match(t, /# TYPE engine_unserved_queues gauge/);

    // The actor's own route says why there is no actor.
    const one = await getJson(base, `/admin/actors/${encodeURIComponent(UNSERVED)}`);
    assert.equal(one.status, 404);
    assert.equal(one.json.error, `no actor ${UNSERVED}`);
    assert.equal(one.json.unserved?.queued, 2);
    assert.equal(one.json.unserved?.reason, UNSERVED_REASON);
    // Still behind the token.
    assert.equal((await getJson(base, "/admin/actors", null)).status, 401);
  } finally {
    await supervisor.stop();
    await server.shutdown();
    store.close();
  }
});

Deno.test("engine: a queue of a destination no config has shows in the admin API, /metrics and the console, with its depth; the served destination's queue does not", async () => {
  await using dir = await tempDir({ prefix: "unserved-engine-" });
  const path = `${dir.path}/engine.kv`;
  const config = await consoleConfig(path);
  // Queued before the engine starts: two for a destination since removed from the config, one
  // for its `lab` destination (127.0.0.1:1 refuses: its queue stays).
  const gone = "mllp-out:127.0.0.1:2";
  const lab = "mllp-out:127.0.0.1:1";
  const before = await Store.open({ path, node: "setup" });
  try {
    for (const id of ["G-1", "G-2"]) await enqueueAdt(before, gone, id);
    await enqueueAdt(before, lab, "L-1");
  } finally {
    before.close();
  }
  const e = await startEngine(config, { http: true });
  try {
    const listed = async () => (await getJson(e.base, "/admin/actors")).json;
    let json = await listed();
    assert.deepEqual(json.unserved.map((u: { actor: string }) => u.actor), [gone]);
    assert.equal(json.unserved[0].queued, 2);
    assert.equal(json.unserved[0].reason, UNSERVED_REASON);
    assert.ok(json.actors.some((a: { id: string }) => a.id === lab), "lab: an actor");

    // Past the engine's grace (10 s, real time): warned, counted, on the console.
    await waitFor("past the grace", async () => (json = await listed()).unserved[0]?.warned);
    assert.equal(json.unserved[0].pastGrace, true);
    assert.ok(e.log.lines.some((l) => l.includes("cluster.actor-unserved") && l.includes(gone)));
    const metrics = await (await fetch(`${e.base}/metrics`)).text();
    assert.equal(sample(metrics, "engine_unserved_queues"), 1);
    assert.equal(sample(metrics, `engine_unserved_queue_depth{actor="${gone}"}`), 2);
    assert.equal(sample(metrics, `engine_unserved_queue_depth{actor="${lab}"}`), undefined);

    const admin = await signIn(e.base, { token: TOKEN });
    const page = await (await fetch(`${e.base}/console/actors`, {
      headers: { cookie: admin.cookie },
    })).text();
    const row = new RegExp(`<tr data-unserved-actor="${gone}" data-queued="2">(.*?)</tr>`, "s")
      .exec(page)?.[1];
    assert.ok(row, "a row for the unserved queue");
    assert.ok(row.includes(UNSERVED_HINT.replace("'", "&#39;")), row);
    assert.ok(!page.includes(`data-unserved-actor="${lab}"`), "lab is served");
  } finally {
    await e.close();
  }
});
