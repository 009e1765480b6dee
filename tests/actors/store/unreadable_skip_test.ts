/**
 * An unreadable entry (another version's, or damaged) at the head of a paused destination's queue,
 * as an operator meets it through the admin API (real KV file, real engine, real receiver): the
 * actor listing shows it as unreadable instead of setting it aside behind the operator's back, and
 * the skip sent after it moves that entry aside — not the real message queued behind it.
 */

import assert from "node:assert/strict";
import { configFrom, startEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

type Json = Record<string, unknown>;

Deno.test("an admin listing of a paused queue shows its unreadable head as such, and a skip sets aside that entry, not the message behind it", async () => {
  await using dir = await tempDir({ prefix: "unreadable-skip-" });
  const kvPath = `${dir.path}/engine.kv`;
  const rx = startReceiver((f) => f.ack("AA"));
  const queue = `mllp-out:127.0.0.1:${rx.port}`;
  // Written before the engine starts, sorting before any seq the engine makes; the destination's
  // actor paused, so nothing but the operator reads its queue.
  const kv = await Deno.openKv(kvPath);
  await kv.atomic()
    .set(["q", queue, "0000000000001"], { v: 2, payload: "from a later version" })
    .sum(["qdepth", queue], 1n)
    .set(["actor", queue], { paused: true, by: "ops", reason: "maintenance", at: 1 })
    .commit();
  kv.close();
  const e = await startEngine(
    configFrom({
      node: { id: "test" },
      kv: { path: kvPath },
      http: { port: 0, hostname: "127.0.0.1", development: true },
      environments: [{ id: "dev", type: "development" }],
      listeners: [{ port: 0, hostname: "127.0.0.1" }],
      integrations: [{
        id: "feed",
        environment: "dev",
        mllp: { port: 0, allowedIps: ["127.0.0.1"] },
      }],
      destinations: [{
        id: "dest",
        environment: "dev",
        mllp: { host: "127.0.0.1", port: rx.port },
      }],
      subscriptions: [{ from: { integration: "feed" }, to: ["dest"] }],
    }),
    { http: true },
  );
  const token = (await Deno.readTextFile(`${dir.path}/admin.token`)).trim();
  const admin = async (method: "GET" | "POST", path: string, body?: Json) => {
    const res = await fetch(`${e.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() as Json };
  };
  const actor = `/admin/actors/${encodeURIComponent(queue)}`;
  const sender = await RawMllpSender.connect(e.mllpPort);
  try {
    assert.equal(summarizeAck(await sender.request(adt("REAL1"))).code, "AA");
    await waitFor(
      "the real message queued behind",
      async () => await e.engine.store.depth(queue) === 2,
    );

    // The operator's listing: the unreadable head is shown, and left where it is.
    const listed = await admin("GET", actor);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.equal(listed.body.queueDepth, 2);
    assert.deepEqual(listed.body.unreadableHead, { seq: "0000000000001", reason: "no seq" });
    assert.deepEqual((await admin("GET", `${actor}/dead-letters`)).body.deadLetters, []);

    // The skip moves that entry aside.
    const skipped = await admin("POST", `${actor}/skip`, { by: "ops", reason: "stuck" });
    assert.equal(skipped.status, 200, JSON.stringify(skipped.body));
    assert.match(String(skipped.body.message), /unreadable entry 0000000000001/);
    const dead = (await admin("GET", `${actor}/dead-letters`)).body.deadLetters as Json[];
    assert.deepEqual(dead.map((d) => [d.seq, d.by, d.reason]), [
      ["0000000000001", "ops", "unreadable queue entry: no seq (skipped: stuck)"],
    ]);
    assert.equal(await e.engine.store.depth(queue), 1);

    // Resumed, the real message is delivered.
    assert.equal((await admin("POST", `${actor}/resume`, { by: "ops" })).status, 200);
    await waitFor("the real message delivered", () => rx.frames.length >= 1, 20_000);
    assert.deepEqual(controlIds(rx), ["REAL1"]);
    await waitFor("the queue is empty", async () => await e.engine.store.depth(queue) === 0);
  } finally {
    await sender.close();
    await e.close();
    await rx.close();
  }
});
