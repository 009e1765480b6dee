/**
 * A queue entry the engine cannot read (another version's, or damaged) at the head of a
 * destination's queue (red team 4, M1): real KV file, real engine, real receiver.
 */

import assert from "node:assert/strict";
import { configFrom, startEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("unreadable entries at the head of a destination's queue are set aside with an ERROR naming the key and why; the messages behind them are delivered and nothing crashes", async () => {
  await using dir = await tempDir({ prefix: "unreadable-" });
  const kvPath = `${dir.path}/engine.kv`;
  const rx = startReceiver((f) => f.ack("AA"));
  const queue = `mllp-out:127.0.0.1:${rx.port}`;
  // Written before the engine starts, sorting before any seq the engine makes.
  const kv = await Deno.openKv(kvPath);
  await kv.atomic()
    .set(["q", queue, "0000000000001"], { v: 2, payload: "from a later version" })
    .set(["q", queue, "0000000000002"], "not an entry at all")
    .sum(["qdepth", queue], 2n)
    .commit();
  kv.close();
  const e = await startEngine(configFrom({
    node: { id: "test" },
    kv: { path: kvPath },
    environments: [{ id: "dev", type: "development" }],
    listeners: [{ port: 0, hostname: "127.0.0.1" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "dest", environment: "dev", mllp: { host: "127.0.0.1", port: rx.port } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["dest"] }],
  }));
  const sender = await RawMllpSender.connect(e.mllpPort);
  try {
    const ids = Array.from({ length: 20 }, (_, i) => `U${String(i).padStart(3, "0")}`);
    for (const id of ids) assert.equal(summarizeAck(await sender.request(adt(id))).code, "AA");
    await waitFor("every message delivered", () => rx.frames.length >= ids.length, 20_000);
    assert.deepEqual(controlIds(rx), ids);
    await waitFor("the queue is empty", async () => await e.engine.store.depth(queue) === 0);

    // Each one is in the dead-letter list, with why and its raw value, for an operator to see.
    const dead = await e.engine.store.deadLetters(queue);
    assert.equal(dead.length, 2, JSON.stringify(dead));
    const [first, second] = dead as unknown as Record<string, string>[];
    assert.equal(first!.reason, "unreadable queue entry: no seq");
    assert.match(first!.unreadable!, /from a later version/);
    assert.equal(second!.reason, "unreadable queue entry: not a queue entry (string)");
    assert.equal(second!.unreadable, '"not an entry at all"');
    // One ERROR each, naming the key and why.
    const errors = e.log.lines.filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 2, errors.join("\n"));
    assert.match(errors[0]!, /queue\.unreadable-entry .*0000000000001.*reason="no seq"/);
    assert.match(errors[1]!, /queue\.unreadable-entry .*0000000000002.*reason="not a queue entry/);
    assert.ok(!e.log.lines.some((l) => /actor\.crashed/.test(l)));
  } finally {
    await sender.close();
    await e.close();
    await rx.close();
  }
});
