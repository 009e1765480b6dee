/**
 * A reload whose new MLLP port cannot be bound (another process holds it) is refused like any
 * other refused reload: 409, a problem at the integration's `mllp.port` naming the address and
 * the OS's reason, a `config.reload-refused` log line, and nothing of the new config applied (the
 * old listeners accept and deliver as before, the new port that could be bound is let go).
 * @module
 */

import assert from "node:assert/strict";
import type { Config } from "../../actors/config/mod.ts";
import { configFrom, startEngine } from "../helpers/engine.ts";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { controlIds, startReceiver } from "../helpers/receivers.ts";
import { spawnEngine } from "../helpers/engine_process.ts";
import { tempDir } from "../helpers/temp.ts";

type Json = Record<string, unknown>;

/** MLLP integrations on `ports` (the first is `feed`), feed → the destinations `to` (if any). */
function configJson(kv: string, ports: number[], to: Record<string, number>): Json {
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
    destinations: Object.entries(to).map(([id, port]) => ({
      id,
      environment: "dev",
      mllp: { host: "127.0.0.1", port },
    })),
    subscriptions: Object.keys(to).length > 0
      ? [{ from: { integration: "feed" }, to: Object.keys(to) }]
      : [],
  };
}

/** Sends `id` on a fresh connection to `port` and returns the ACK code. */
async function send(port: number, id: string): Promise<string | undefined> {
  const sender = await RawMllpSender.connect(port);
  try {
    return summarizeAck(await sender.request(adt(id))).code;
  } finally {
    await sender.close();
  }
}

Deno.test("reload to an MLLP port another process holds is refused with 409 naming the field, address and reason; the old config keeps running", async () => {
  await using dir = await tempDir({ prefix: "reload-port-taken-" });
  const a = startReceiver((f) => f.ack("AA"));
  const b = startReceiver((f) => f.ack("AA"));
  // Another process's socket on the port the new config wants.
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = (squatter.addr as Deno.NetAddr).port;
  const spare = freePort();
  const kv = `${dir.path}/engine.kv`;
  const file = `${dir.path}/engine.json`;
  const v1 = configJson(kv, [0], { a: a.port });
  await Deno.writeTextFile(file, JSON.stringify(v1));
  const e = await startEngine(configFrom(v1), { http: true, configFile: file });
  const headers = {
    authorization: `Bearer ${(await Deno.readTextFile(`${dir.path}/admin.token`)).trim()}`,
  };
  const reload = async () => {
    const res = await fetch(`${e.base}/admin/config/reload`, { method: "POST", headers });
    return { status: res.status, body: await res.json() as Json };
  };
  const version = async () => {
    const res = await fetch(`${e.base}/admin/config`, { headers });
    return await res.json() as Json;
  };
  const kept = await RawMllpSender.connect(e.mllpPort);
  try {
    assert.equal(summarizeAck(await kept.request(adt("K1"))).code, "AA");
    const before = await version();
    const runningBefore: Config = e.engine.config;
    // Two new ports (one free, one taken) and a new destination b.
    await Deno.writeTextFile(
      file,
      JSON.stringify(configJson(kv, [e.mllpPort, spare, taken], { a: a.port, b: b.port })),
    );
    const refused = await reload();
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.ok, false);
    assert.match(String(refused.body.error), /nothing changed/);
    const problems = refused.body.problems as { path: string; message: string }[];
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0]!.path, "$.integrations[2].mllp.port");
    assert.match(problems[0]!.message, /integration feed2/);
    assert.ok(problems[0]!.message.includes(`127.0.0.1:${taken}`), problems[0]!.message);
    assert.match(problems[0]!.message, /address already in use/);
    const logged = e.log.lines.filter((l) => l.includes("config.reload-refused"));
    assert.equal(logged.length, 1, e.log.lines.join("\n"));
    assert.ok(logged[0]!.includes("$.integrations[2].mllp.port"), logged[0]);
    assert.ok(logged[0]!.includes(`127.0.0.1:${taken}`), logged[0]);
    assert.match(logged[0]!, /address already in use/);

    // Nothing of the new config: the same version and config, the free new port let go, and
    // messages still go to a only, on the kept connection and on a new one.
    assert.deepEqual(await version(), before);
    assert.equal(e.engine.config, runningBefore);
    await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port: spare }));
    assert.equal(summarizeAck(await kept.request(adt("K2"))).code, "AA");
    assert.equal(await send(e.mllpPort, "N1"), "AA");
    await waitFor("a has K1, K2, N1", () => {
      const ids = controlIds(a);
      return ["K1", "K2", "N1"].every((id) => ids.includes(id));
    });
    assert.deepEqual(controlIds(b), []);

    // Once the port is free, the same file reloads, and the new ports accept.
    squatter.close();
    const applied = await reload();
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.equal(await send(taken, "T1"), "AA");
    assert.equal(await send(spare, "S1"), "AA");
  } finally {
    try {
      squatter.close();
    } catch { /* closed above */ }
    await kept.close();
    await e.close();
    await a.close();
    await b.close();
  }
});

Deno.test("SIGHUP with a config whose new MLLP port is taken logs config.reload-refused naming the field and reason; the child keeps accepting on its old port", async () => {
  if (Deno.build.os === "windows") return;
  await using dir = await tempDir({ prefix: "reload-port-taken-hup-" });
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = (squatter.addr as Deno.NetAddr).port;
  const first = freePort(); // the child binds it from its file
  const file = `${dir.path}/engine.json`;
  const kv = `${dir.path}/engine.kv`;
  await Deno.writeTextFile(file, JSON.stringify(configJson(kv, [first], {})));
  const { child, status, drained, output, exited } = spawnEngine({
    flags: ["-A"],
    args: ["serve", "--config", file],
  });
  const lines = (event: string) => output().split("\n").filter((l) => l.split(" ").includes(event));
  try {
    await waitFor("the engine started", () => {
      if (exited()) throw new Error(`the engine exited:\n${output()}`);
      return lines("engine.started").length > 0 && lines("http.listening").length > 0;
    }, 60_000);
    await Deno.writeTextFile(file, JSON.stringify(configJson(kv, [first, taken], {})));
    child.kill("SIGHUP");
    await waitFor("the refusal", () => {
      if (exited()) throw new Error(`the engine exited:\n${output()}`);
      return lines("config.reload-refused").length > 0 || lines("config.reloaded").length > 0;
    }, 30_000);
    const [refused] = lines("config.reload-refused");
    assert.ok(refused, output());
    assert.ok(refused.includes("$.integrations[1].mllp.port"), refused);
    assert.ok(refused.includes(`127.0.0.1:${taken}`), refused);
    assert.match(refused, /address already in use/);
    assert.equal(await send(first, "H1"), "AA");
  } finally {
    squatter.close();
    if (!exited()) child.kill("SIGTERM");
    await status;
    await drained;
  }
});
