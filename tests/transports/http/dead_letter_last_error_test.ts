/**
 * A dead letter carries the destination's own words on the message's last failed attempt
 * (`lastError`): an operator who skips a NAKed head, or the engine moving one aside under
 * `onNack: dead-letter`, leaves the NAK's code, text and error code on the dead letter, listed by
 * `GET /admin/actors/:id/dead-letters` and in the console's dead letters table (Last error,
 * escaped); a record kept before the field lists as before. Real engine, real KV file, a real
 * MLLP peer that NAKs.
 * @module
 */

import assert from "node:assert/strict";
import { buildAckText } from "../../../codecs/hl7v2/ack.ts";
import type { DeadLetter } from "../../../actors/store/dead_letters.ts";
import { keys } from "../../../actors/store/keys.ts";
import { Store } from "../../../actors/store/store.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { enqueueAdt } from "../../helpers/queue.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { type RawReceiver, startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";
import { consoleConfig, sendHl7, signIn, TOKEN } from "./console/fixture.ts";

const NAK = "AE: Patient MRN 12345 not found (error 204)";

/** A peer that answers every frame with an AE naming `text`, ERR-3 `204`. */
function nakingPeer(text = "Patient MRN 12345 not found"): RawReceiver {
  return startReceiver((f) =>
    f.send(buildAckText(f.message, { code: "AE", error: { code: "204", text } }))
  );
}

/** The console engine with `lab` delivering to `port` (`onNack` as given). */
async function engineTo(
  kvPath: string,
  port: number,
  onNack?: "dead-letter",
): Promise<TestEngine> {
  return await startEngine(
    await consoleConfig(kvPath, {
      destinations: [{
        id: "lab",
        environment: "dev",
        mllp: { host: "127.0.0.1", port, ...(onNack ? { onNack } : {}) },
      }],
    }),
    { http: true },
  );
}

async function admin(e: TestEngine, path: string, body?: unknown) {
  const r = await fetch(`${e.base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, json: await r.json() };
}

/** The console's dead letters rows, by log id. */
async function consoleRows(e: TestEngine): Promise<Map<string, string>> {
  const { cookie } = await signIn(e.base, { token: TOKEN });
  const r = await fetch(`${e.base}/console/actors`, { headers: { cookie } });
  assert.equal(r.status, 200);
  const html = await r.text();
  assert.match(html, /<th>Last error<\/th>/);
  const rows = new Map<string, string>();
  for (const m of html.matchAll(/<tr data-dead-letter="([^"]+)"[^>]*>([\s\S]*?)<\/tr>/g)) {
    rows.set(m[1]!, m[2]!);
  }
  return rows;
}

/** The Last error cell of a console row. */
function lastErrorCell(row: string | undefined): string | undefined {
  return /<td[^>]*data-last-error[^>]*>([\s\S]*?)<\/td>/.exec(row ?? "")?.[1];
}

Deno.test("a NAKed head skipped by an operator keeps the peer's NAK on its dead letter: admin API and console", async () => {
  await using dir = await tempDir({ prefix: "dl-last-error-" });
  const peer = nakingPeer();
  const e = await engineTo(`${dir.path}/engine.kv`, peer.port);
  const actorId = `mllp-out:127.0.0.1:${peer.port}`;
  try {
    await sendHl7(e.mllpPort, adt("NAK-SKIP-1"));
    await waitFor("the NAK as the actor's last error", async () => {
      const s = await e.engine.supervisor.status(actorId);
      return s?.lastError === NAK;
    });
    const skipped = await admin(e, `/admin/actors/${encodeURIComponent(actorId)}/skip`, {
      reason: "patient merged; fixed at source",
      by: "oncall",
    });
    assert.equal(skipped.status, 200, JSON.stringify(skipped.json));

    const listed = await admin(e, `/admin/actors/${encodeURIComponent(actorId)}/dead-letters`);
    assert.equal(listed.status, 200);
    const [dead] = listed.json.deadLetters as DeadLetter[];
    assert.ok(dead, JSON.stringify(listed.json));
    // The operator's reason stays theirs; the peer's words come beside it.
    assert.equal(dead.by, "oncall");
    assert.equal(dead.reason, "patient merged; fixed at source");
    assert.equal(dead.lastError, NAK);

    const row = (await consoleRows(e)).get(dead.logId);
    assert.ok(row, "the dead letter is listed on the console");
    assert.equal(lastErrorCell(row), NAK);
  } finally {
    await e.close();
    await peer.close();
  }
});

Deno.test("a head the engine moves aside under onNack: dead-letter carries the NAK as its last error, shown escaped", async () => {
  await using dir = await tempDir({ prefix: "dl-policy-last-error-" });
  const peer = nakingPeer("MRN <b>12345</b> & co unknown");
  const e = await engineTo(`${dir.path}/engine.kv`, peer.port, "dead-letter");
  const actorId = `mllp-out:127.0.0.1:${peer.port}`;
  const expected = "AE: MRN <b>12345</b> & co unknown (error 204)";
  try {
    await sendHl7(e.mllpPort, adt("NAK-POLICY-1"));
    let dead: DeadLetter | undefined;
    await waitFor("moved aside by the engine", async () => {
      const list = await admin(e, `/admin/actors/${encodeURIComponent(actorId)}/dead-letters`);
      dead = (list.json.deadLetters as DeadLetter[])[0];
      return dead !== undefined;
    });
    assert.ok(dead);
    assert.equal(dead.by, "policy:dead-letter");
    assert.equal(dead.lastError, expected);

    const cell = lastErrorCell((await consoleRows(e)).get(dead.logId));
    // The peer's text is inert: escaped, never markup.
    assert.equal(cell, "AE: MRN &lt;b&gt;12345&lt;/b&gt; &amp; co unknown (error 204)");
  } finally {
    await e.close();
    await peer.close();
  }
});

Deno.test("a dead letter kept before lastError existed still lists, with an empty Last error cell", async () => {
  await using dir = await tempDir({ prefix: "dl-old-record-" });
  const kvPath = `${dir.path}/engine.kv`;
  const queue = "mllp-out:127.0.0.1:1";
  // A record as the engine wrote it before: who, why, when, no lastError.
  const store = await Store.open({ path: kvPath, node: "test" });
  const old = { seq: "000old00000000000test", messageId: "m-old", logId: "l-old" };
  try {
    const record = { ...old, enqueuedAt: Date.UTC(2026, 0, 2), by: "ops", reason: "old", at: 1 };
    await store.kv.set(keys.deadLetter(queue, old.seq), record);
  } finally {
    store.close();
  }
  const e = await engineTo(kvPath, 1);
  try {
    const listed = await admin(e, `/admin/actors/${encodeURIComponent(queue)}/dead-letters`);
    assert.equal(listed.status, 200);
    assert.equal(listed.json.deadLetters.length, 1);
    assert.equal(listed.json.deadLetters[0].reason, "old");
    assert.equal("lastError" in listed.json.deadLetters[0], false);
    const row = (await consoleRows(e)).get("l-old");
    assert.ok(row, "listed on the console");
    assert.equal(lastErrorCell(row), "");
  } finally {
    await e.close();
  }
});

Deno.test("a reprocessed message moved aside again before any failed attempt carries no earlier error", async () => {
  await using dir = await tempDir({ prefix: "dl-reprocess-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "test" });
  const queue = "mllp-out:fake:1";
  try {
    const { logId } = await enqueueAdt(store, queue, "AGAIN-1");
    await store.recordAttempt(logId, { at: Date.now(), outcome: "FAILED", reason: NAK });
    const [head] = await store.peek(queue);
    assert.ok(head);
    assert.equal(await store.deadLetter(head, "ops", "bad data"), true);
    assert.equal((await store.deadLetters(queue))[0]?.lastError, NAK);
    const back = await store.reprocess(logId, "ops", "fixed at source");
    assert.equal(back.ok, true);
    const [again] = await store.peek(queue);
    assert.ok(again);
    // The queue entry went back alone: nothing the dead-letter list added rides along.
    assert.equal("lastError" in again.entry, false);
    assert.equal(await store.deadLetter(again, "ops", "still bad"), true);
    const [dead] = await store.deadLetters(queue);
    assert.equal(dead?.reason, "still bad");
    assert.equal(dead?.lastError, undefined, "the NAK was before the reprocess");
  } finally {
    store.close();
  }
});
