/**
 * `/metrics` tells a paused queue from a stuck one: `engine_actor_state` (one series per actor,
 * its current state) and `engine_actor_destination_info` (the destinations an actor delivers to:
 * two MLLP destinations at one `host:port` share one). A real engine whose MLLP destinations point
 * at a port nothing listens on, paused through the admin API.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { parseConfig } from "../../actors/config/mod.ts";
import { startEngine } from "../helpers/engine.ts";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";

const TOKEN = "metrics-admin-token-0123456789";

/** The series of `name` in a `/metrics` text, as `{labels} value`, after checking its HELP and TYPE. */
function series(text: string, name: string): string[] {
  const lines = text.split("\n");
  assert.ok(lines.some((l) => l.startsWith(`# HELP ${name} `)), `HELP of ${name}`);
  assert.ok(lines.includes(`# TYPE ${name} gauge`), `TYPE of ${name}`);
  return lines.filter((l) => l.startsWith(`${name}{`)).map((l) => l.slice(name.length)).sort();
}

Deno.test("/metrics: engine_actor_state gives each actor's state (backoff, then paused) and engine_actor_destination_info its destinations", async () => {
  await using dir = await tempDir({ prefix: "actor-state-metrics-" });
  const down = freePort();
  const actor = `mllp-out:127.0.0.1:${down}`;
  const parsed = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    admin: { token: { env: "T" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [
      { id: "lab", environment: "dev", mllp: { host: "127.0.0.1", port: down } },
      { id: "bulk", environment: "dev", mllp: { host: "127.0.0.1", port: down } },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["lab"] }],
  }, { env: () => TOKEN, readFile: () => new Error("-") });
  assert.ok(parsed.ok);
  const e = await startEngine(parsed.config, { http: true });
  const client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  const metrics = async () => await (await fetch(`${e.base}/metrics`)).text();
  const stateOf = async () =>
    series(await metrics(), "engine_actor_state").filter((s) => s.includes(`actor="${actor}"`));
  try {
    await client.sendAndWait(Hl7Message.parse(adt("S1")));
    // The peer refuses connections: the actor backs off.
    await waitFor("backoff in /metrics", async () => {
      const s = await stateOf();
      return s.length === 1 && s[0] === `{actor="${actor}",kind="mllp-out",state="backoff"} 1`;
    });
    assert.deepEqual(series(await metrics(), "engine_actor_destination_info"), [
      `{actor="${actor}",destination="bulk"} 1`,
      `{actor="${actor}",destination="lab"} 1`,
    ]);

    const res = await fetch(`${e.base}/admin/actors/${actor}/pause`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ by: "ops", reason: "peer down until 08:00" }),
    });
    assert.equal(res.status, 200, await res.text());
    await waitFor("paused in /metrics", async () => {
      const s = await stateOf();
      return s.length === 1 && s[0] === `{actor="${actor}",kind="mllp-out",state="paused"} 1`;
    });
    // One series per actor, every actor listed by the queue gauges has one.
    const text = await metrics();
    const actors = (name: string) =>
      series(text, name).map((s) => /actor="((?:[^"\\]|\\.)*)"/.exec(s)?.[1]).sort();
    assert.deepEqual(actors("engine_actor_state"), actors("engine_queue_depth"));
    assert.equal(new Set(actors("engine_actor_state")).size, actors("engine_actor_state").length);
  } finally {
    client.close();
    await e.close();
  }
});
