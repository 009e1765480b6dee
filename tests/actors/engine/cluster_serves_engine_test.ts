/**
 * Two engines on one KV file, as two processes on one host run them: each has its own MLLP port
 * (and the same destination, with an hl7Edit so that every message goes through its inbound
 * actor). The node ids are chosen so that rendezvous hashing over both nodes gives each port's
 * inbound queue to the node without that port: every message ACKed on either port is delivered
 * all the same (before, those ACKed on a port whose queue went to the other node sat queued for
 * ever), and each node's heartbeat says what it serves.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { rendezvous } from "../../../actors/runtime/cluster.ts";
import { ServesMatcher } from "../../../actors/runtime/serves.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { configFrom, startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, freePort, retryOnPortTaken, waitFor } from "../../helpers/net.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

/** One node's config: its own MLLP port, the shared destination and KV file. */
function nodeConfig(node: string, kvPath: string, inPort: number, outPort: number) {
  return configFrom({
    node: { id: node },
    kv: { path: kvPath },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: outPort },
      hl7Edits: [{ op: "set", path: "PID-8", value: "U" }],
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  });
}

/** Node ids for which the hash over both gives each port's inbound queue to the other node. */
function crossedIds(portA: number, portB: number): [string, string] {
  const qA = `mllp-in:${portA}:127.0.0.1`, qB = `mllp-in:${portB}:127.0.0.1`;
  for (let i = 0; i < 100; i++) {
    for (let j = 0; j < 100; j++) {
      const a = `na-${i}`, b = `nb-${j}`;
      const both = [{ id: a, weight: 1 }, { id: b, weight: 1 }];
      if (rendezvous(qA, both) === b && rendezvous(qB, both) === a) return [a, b];
    }
  }
  throw new Error("no crossed node ids found");
}

/** Sends `ids` to `port`, each answered AA. */
async function send(port: number, ids: string[]): Promise<void> {
  const client = new Hl7Client({ host: "127.0.0.1", port });
  try {
    for (const id of ids) {
      const ack = await client.sendAndWait(Hl7Message.parse(adt(id)));
      assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA", id);
    }
  } finally {
    await client.close();
  }
}

Deno.test("two engines on one KV with their own MLLP ports: the messages ACKed on each port are delivered, whichever node the hash over both would give its queue", async () => {
  await using dir = await tempDir({ prefix: "cluster-serves-engine-" });
  const receiver = startReceiver((f) => f.ack("AA"));
  const kvPath = `${dir.path}/engine.kv`;
  const engines: TestEngine[] = [];
  try {
    const [a, b] = await retryOnPortTaken(async () => {
      const portA = freePort(), portB = freePort();
      const [idA, idB] = crossedIds(portA, portB);
      const a = await startEngine(nodeConfig(idA, kvPath, portA, receiver.port));
      engines.push(a);
      const b = await startEngine(nodeConfig(idB, kvPath, portB, receiver.port));
      engines.push(b);
      return [a, b];
    });
    await waitFor(
      "both nodes live on each",
      () => a.engine.cluster.liveIds.length === 2 && b.engine.cluster.liveIds.length === 2,
    );
    const sentA = Array.from({ length: 5 }, (_, i) => `PA-${i}`);
    const sentB = Array.from({ length: 5 }, (_, i) => `PB-${i}`);
    await send(a.mllpPort, sentA);
    await send(b.mllpPort, sentB);
    await waitFor(
      "every ACKed message delivered",
      () => [...sentA, ...sentB].every((id) => controlIds(receiver).includes(id)),
      20_000,
    );
    // The heartbeats say what each node serves.
    const nodes = await a.engine.cluster.nodes();
    const servesOf = (e: TestEngine) => nodes.find((n) => n.id === e.engine.cluster.node)?.serves;
    const out = `mllp-out:127.0.0.1:${receiver.port}`;
    assert.deepEqual(servesOf(a), [out, `mllp-in:${a.mllpPort}:*`].sort());
    assert.deepEqual(servesOf(b), [out, `mllp-in:${b.mllpPort}:*`].sort());
  } finally {
    for (const e of engines.reverse()) await e.close();
    await receiver.close();
  }
});

Deno.test("an engine's heartbeat serves exactly what its factory builds: every actor it shows, no other port", async () => {
  await using dir = await tempDir({ prefix: "cluster-serves-list-" });
  const config = configFrom({
    node: { id: "list" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [
      { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: 7001 } },
      { id: "lab", environment: "dev", mllp: { host: "127.0.0.1", port: 7002 } },
      {
        id: "hook",
        environment: "dev",
        https: { url: "http://127.0.0.1:9/in", verificationToken: { env: "HOOK_TOKEN" } },
      },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr", "lab", "hook"] }],
  }, (n) => (n === "HOOK_TOKEN" ? "hook-token" : undefined));
  const e = await startEngine(config, { httpSender: new FetchSender() });
  try {
    const self = (await e.engine.cluster.nodes()).find((n) => n.self);
    const serves = self?.serves ?? [];
    assert.deepEqual(serves, [
      "https:hook",
      `mllp-in:${e.mllpPort}:*`,
      "mllp-out:127.0.0.1:7001",
      "mllp-out:127.0.0.1:7002",
    ]);
    const matcher = new ServesMatcher(serves);
    const supervisor = e.engine.supervisor;
    // Every actor it shows is served; every id served (and a peer of its port) is built.
    for (const s of await supervisor.statuses()) assert.ok(matcher.has(s.id), s.id);
    for (const id of serves.filter((p) => !p.endsWith("*"))) {
      assert.ok(await supervisor.status(id), `${id} is built`);
    }
    assert.ok(await supervisor.status(`mllp-in:${e.mllpPort}:10.1.2.3`));
    // Another port's queue: neither served nor built.
    assert.equal(matcher.has(`mllp-in:${e.mllpPort + 1}:10.1.2.3`), false);
    assert.equal(await supervisor.status(`mllp-in:${e.mllpPort + 1}:10.1.2.3`), undefined);
  } finally {
    await e.close();
  }
});
