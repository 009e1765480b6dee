/**
 * What an operator on call reads from the console about a stuck destination: the destinations
 * page says how its delivery stands (its actor, state, messages waiting, the peer's error) and
 * never calls a failed attempt a delivery; the actors page names the destinations an actor
 * delivers to and why it is paused; a log's attempts give durations people read.
 * @module
 */

import assert from "node:assert/strict";
import { adt } from "../../../helpers/net.ts";
import { sendHl7, signIn, startConsoleEngine, TOKEN } from "./fixture.ts";

/** Waits (bounded) until `test` holds, polling the engine's own state. */
async function until(what: string, test: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("console: a refused destination shows its actor, state, waiting count and error; a pause its reason", async () => {
  const e = await startConsoleEngine();
  try {
    await sendHl7(e.mllpPort, adt("STUCK-1"));
    const actorId = "mllp-out:127.0.0.1:1";
    const statusOf = async () =>
      (await e.engine.supervisor.statuses()).find((s) => s.id === actorId);
    await until("a failed attempt", async () => (await statusOf())?.lastError !== undefined);
    const admin = await signIn(e.base, { token: TOKEN });
    const get = async (path: string) => {
      const r = await fetch(`${e.base}${path}`, { headers: { cookie: admin.cookie } });
      assert.equal(r.status, 200, path);
      return await r.text();
    };

    const dest = await get("/console/destinations");
    const row = /<tr data-destination-id="lab">([\s\S]*?)<\/tr>/.exec(dest)?.[1] ?? "";
    assert.ok(!/Last delivery/.test(dest), "an attempt that failed is not called a delivery");
    assert.match(row, new RegExp(`data-actor-id="${actorId}"`));
    assert.match(row, /1 waiting/);
    assert.match(row, /connect to 127\.0\.0\.1:1 failed/);
    assert.ok(!/not verified/.test(row), "an MLLP destination has no verification to fail");

    const pause = await fetch(`${e.base}/admin/actors/${actorId}/pause`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "lab LIS down until 08:00", by: "oncall" }),
    });
    assert.equal(pause.status, 200);
    await pause.body?.cancel();
    await until("the pause", async () => (await statusOf())?.paused !== undefined);
    const paused = /<tr data-destination-id="lab">([\s\S]*?)<\/tr>/.exec(
      await get("/console/destinations"),
    )?.[1] ?? "";
    assert.match(paused, /paused by oncall: lab LIS down until 08:00/);
    const actors = await get("/console/actors");
    const actorRow = new RegExp(`<tr data-actor-id="${actorId}"[^>]*>([\\s\\S]*?)</tr>`)
      .exec(actors)?.[1] ?? "";
    assert.match(actorRow, /data-destinations="lab"/, "the actor names its destination");
    assert.match(actorRow, /paused by oncall since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: lab LIS down/);

    const list = await get("/console/logs?status=PENDING");
    const pendingRow = /<tr data-log-id="[^"]+" data-status="PENDING">([\s\S]*?)<\/tr>/
      .exec(list)?.[1] ?? "";
    assert.match(pendingRow, /retrying: connect to 127\.0\.0\.1:1 failed/, "why it waits");
    const logId = (await statusOf())?.inFlight?.logId ??
      (await e.engine.store.listLogs({ type: "SEND", limit: 1 })).logs[0]!.id;
    const log = await get(`/console/logs/${logId}`);
    const attempts = /<ol class="timeline" id="attempts">([\s\S]*?)<\/ol>/.exec(log)?.[1] ?? "";
    assert.match(attempts, / in \d+(\.\d)? m?s/);
    assert.ok(!/ in \d+\.\d{2,} ms/.test(attempts), `durations are rounded: ${attempts}`);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});
