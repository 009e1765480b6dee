/**
 * An MLLP destination moved to another port and back by config reloads while its queue is not
 * empty (red team 4, H3): real engine, real KV file, real reloads over HTTP, real receivers that
 * come up only after the moves.
 */

import assert from "node:assert/strict";
import { listLogs } from "../../actors/store/mod.ts";
import { configFrom, startEngine } from "../helpers/engine.ts";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { controlIds, type RawReceiver, startReceiver } from "../helpers/receivers.ts";
import { tempDir } from "../helpers/temp.ts";

type Json = Record<string, unknown>;

/** One MLLP feed; destination `dest` at 127.0.0.1:`port`, subscribed to the feed. */
function configJson(kv: string, port: number): Json {
  return {
    node: { id: "test" },
    kv: { path: kv },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    listeners: [{ port: 0, hostname: "127.0.0.1" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "dest", environment: "dev", mllp: { host: "127.0.0.1", port } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["dest"] }],
  };
}

const receiver = (port: number): RawReceiver => startReceiver((f) => f.ack("AA"), { port });

Deno.test("a destination moved to port B and back to A with a backlog delivers every message to A only, in order, and leaves nothing queued", async () => {
  await using dir = await tempDir({ prefix: "move-back-" });
  const kv = `${dir.path}/engine.kv`;
  const file = `${dir.path}/engine.json`;
  // Both addresses are down until every move is done: the queue is never empty meanwhile.
  const portA = freePort();
  const portB = freePort();
  const write = (port: number) => Deno.writeTextFile(file, JSON.stringify(configJson(kv, port)));
  await write(portA);
  const e = await startEngine(configFrom(configJson(kv, portA)), { http: true, configFile: file });
  const token = (await Deno.readTextFile(`${dir.path}/admin.token`)).trim();
  const headers = { authorization: `Bearer ${token}` };
  const reload = async (port: number) => {
    await write(port);
    const res = await fetch(`${e.base}/admin/config/reload`, { method: "POST", headers });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.applied as string[];
  };
  const sender = await RawMllpSender.connect(e.mllpPort);
  const receivers: RawReceiver[] = [];
  const idA = `mllp-out:127.0.0.1:${portA}`;
  const idB = `mllp-out:127.0.0.1:${portB}`;
  try {
    const ids: string[] = [];
    const send = async (prefix: string) => {
      for (let i = 1; i <= 10; i++) {
        const id = `${prefix}-${String(i).padStart(2, "0")}`;
        const ack = summarizeAck(await sender.request(adt(id)));
        assert.equal(ack.code, "AA", `${id}: ${JSON.stringify(ack)}`);
        ids.push(id);
      }
    };
    await send("P1");
    assert.ok((await reload(portB)).includes(`moved ${idA} to ${idB}`));
    await send("P2");
    assert.ok((await reload(portA)).includes(`moved ${idB} to ${idA}`));
    await send("P3");
    // Every message is queued for the address the config names.
    await waitFor("30 queued at A", async () => await e.engine.store.depth(idA) === 30);
    assert.equal(await e.engine.store.depth(idB), 0);

    const a = receiver(portA);
    const b = receiver(portB);
    receivers.push(a, b);
    await waitFor("A has every message", () => a.frames.length >= ids.length, 30_000);
    await waitFor("A's queue is empty", async () => await e.engine.store.depth(idA) === 0);
    assert.deepEqual(controlIds(a), ids);
    assert.equal(b.frames.length, 0, controlIds(b).join());
    assert.equal(await e.engine.store.depth(idB), 0);
    // Every SEND log succeeded, naming A's actor.
    const logs = (await listLogs(e.engine.store.kv, { limit: 1000 })).logs
      .filter((l) => l.type === "SEND");
    assert.equal(logs.length, ids.length);
    assert.ok(
      logs.every((l) => l.status === "SUCCEEDED" && l.actorId === idA),
      JSON.stringify(logs),
    );
    // One actor, at A, delivering to A.
    assert.ok(!e.engine.supervisor.activeIds.includes(idB), e.engine.supervisor.activeIds.join());
    // Nothing went wrong but the addresses being down.
    const faults = e.log.lines.filter((l) =>
      / (ERROR|WARN) /.test(l) && !/ delivery\.failed /.test(l)
    );
    assert.deepEqual(faults, []);
  } finally {
    await sender.close();
    await e.close();
    await Promise.all(receivers.map((r) => r.close()));
  }
});
