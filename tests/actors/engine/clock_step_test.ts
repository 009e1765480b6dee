/**
 * Wall-clock steps and the engine: the retention sweep is held (and says why) after a large
 * forward step and while stored records are stamped ahead of the clock, rather than delete the
 * history; `/healthz` shows a degraded `clock` check and `/metrics` counts the step; an MLLP ACK's
 * MSH-7 never claims a time ahead of the clock. Real KV files; a ManualClock plays the steps.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { EngineMllpInbox } from "../../../actors/engine/mllp_inbox.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { startEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const enc = new TextEncoder();
const dec = new TextDecoder();

function config(kv: string, extra: Record<string, unknown> = {}) {
  const parsed = parseConfig({
    node: { id: "n1" },
    kv: { path: kv },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    limits: { logRetentionDays: 1 },
    ...extra,
  }, {
    env: (n) => (n === "ADMIN_T" ? "admin-token-0123456789abcdef" : undefined),
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

/** Stores a finished message (its log SUCCEEDED) at the store's time; returns its message id. */
async function finished(store: Store, text: string): Promise<string> {
  const r = await store.accept({
    queue: "sftp:lab",
    origin: { kind: "integration", id: "lab" },
    payload: enc.encode(text),
    contentType: "text/plain",
    log: { type: "RECEIVE", integrationId: "lab" },
  });
  assert.equal(r.status, "stored");
  if (r.status !== "stored") throw new Error("not stored");
  await store.updateLog(r.logId, { status: "SUCCEEDED" });
  return r.messageId;
}

Deno.test("a forward clock step of a month holds the retention sweep (logged, with what to do) instead of deleting the history; /healthz and /metrics show the step", async () => {
  await using dir = await tempDir({ prefix: "clock-step-engine-" });
  const clock = new ManualClock();
  let skew = -2 * DAY;
  const store = await Store.open({
    path: `${dir.path}/kv`,
    node: "n1",
    now: () => clock.now() + skew,
  });
  const old = await finished(store, "two days old");
  skew = 0;
  const log = memoryLogger();
  const e = await startEngine(config(`${dir.path}/kv`), { clock, store, log });
  try {
    // The first sweep, at start: the 2-day-old message is past the 1-day retention.
    await waitFor(
      "the first sweep",
      () => log.lines.some((l) => l.includes(" engine.housekeeping ")),
    );
    assert.equal(await store.getMessage(old), null);
    const recent = await finished(store, "just now");

    clock.stepWall(31 * DAY);
    assert.equal(e.engine.clockWatch.check()?.direction, "forward");
    const health = await (await e.app.request("/healthz")).json();
    assert.equal(health.status, "ok", "degraded, not failing");
    const check = health.checks.find((c: { name: string }) => c.name === "clock");
    assert.equal(check?.degraded, true);
    assert.match(check?.reason, /stepped forward by 2678400000 ms/);
    const metrics = await (await e.app.request("/metrics")).text();
    assert.match(metrics, /engine_clock_steps_total\{direction="forward"\} 1/);

    clock.advance(HOUR); // the next sweep is due
    await waitFor(
      "the sweep held",
      () => log.lines.some((l) => l.includes(" retention.held-clock-step ")),
    );
    const held = log.lines.filter((l) => l.includes(" retention.held-clock-step "));
    assert.equal(held.length, 1, "once per sweep");
    assert.match(held[0]!, /offsetMs=2678400000/);
    assert.match(held[0]!, /check the system clock \(NTP\)/);
    assert.ok(await store.getMessage(recent), "the history is kept");
    assert.equal(log.lines.filter((l) => l.includes(" engine.housekeeping ")).length, 1);
  } finally {
    await e.close();
  }
});

Deno.test("at start, records stamped over an hour ahead of the clock hold the retention sweep", async () => {
  await using dir = await tempDir({ prefix: "clock-step-engine-" });
  const clock = new ManualClock();
  let skew = 40 * DAY; // written while the clock ran 40 days ahead; it was stepped back since
  const store = await Store.open({
    path: `${dir.path}/kv`,
    node: "n1",
    now: () => clock.now() + skew,
  });
  const ahead = await finished(store, "stamped ahead");
  skew = 0;
  const log = memoryLogger();
  const e = await startEngine(config(`${dir.path}/kv`), { clock, store, log });
  try {
    await waitFor(
      "the sweep held",
      () => log.lines.some((l) => l.includes(" retention.held-clock-step ")),
    );
    const held = log.lines.find((l) => l.includes(" retention.held-clock-step "))!;
    assert.match(held, /offsetMs=3456000000/);
    assert.match(held, /the sweep resumes by itself once the clock passes/);
    assert.ok(await store.getMessage(ahead));
  } finally {
    await e.close();
  }
});

Deno.test("an MLLP ACK's MSH-7 is the time now though ids are stamped hours ahead (after a forward clock excursion)", async () => {
  await using dir = await tempDir({ prefix: "clock-step-inbox-" });
  const parsed = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 1, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 9 } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  // Ids never go back: after a +2 h excursion they stay stamped 2 h ahead for 2 h.
  const store = await Store.open({
    path: `${dir.path}/engine.kv`,
    node: "t",
    now: () => Date.now() + 2 * HOUR,
  });
  try {
    const inbox = new EngineMllpInbox({
      config: parsed.config,
      store,
      log: memoryLogger(),
      notify: () => {},
      handOver: () => {},
    });
    const before = Date.now();
    const r = await inbox.receive({
      payload: enc.encode(adt("T1")),
      localPort: 1,
      peerIp: "127.0.0.1",
      connection: "c1",
    });
    const after = Date.now();
    const msh7 = parseHl7(dec.decode(r.reply!)).get("MSH-7")!;
    const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)/.exec(msh7)!;
    const at = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    assert.ok(at >= before - 1_000 && at <= after, `MSH-7 ${msh7} is now`);
  } finally {
    store.close();
  }
});
