/**
 * What a firing alert says is what holds now, not what held when it fired: the monitor stores a
 * firing alert's summary when it changes (without notifying anyone), a `resolved` says how long the
 * alert lasted and, for a queue, the worst seen while it fired; a `failed-logs` alert names the
 * newest FAILED log, where it went and why. A real KV store, a webhook receiver, a manual clock.
 */

import assert from "node:assert/strict";
import type { AlertInputs } from "../../../actors/alerts/conditions.ts";
import { engineInputs } from "../../../actors/alerts/inputs.ts";
import { AlertMonitor } from "../../../actors/alerts/monitor.ts";
import type { Config } from "../../../actors/config/mod.ts";
import type { ActorStatus } from "../../../actors/runtime/actor.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { keys } from "../../../actors/store/keys.ts";
import { Store } from "../../../actors/store/store.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { alertConfig, type HookReceiver, startHookReceiver } from "./fixture.ts";

const ACTOR = "mllp-out:127.0.0.1:33010";
const MIN = 60_000;

interface Rig {
  clock: ManualClock;
  store: Store;
  hook: HookReceiver;
  monitor: AlertMonitor;
  /** Notifications the webhook got since the last call: `event rule: summary`. */
  events(): string[];
  close(): Promise<void>;
}

async function rig(
  rules: unknown[],
  inputsOf: (store: Store, config: Config) => AlertInputs,
): Promise<Rig> {
  const hook = startHookReceiver();
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
  const store = await Store.open({ path: ":memory:", node: "n1", now: () => clock.now() });
  const sender = new FetchSender();
  const config = alertConfig({
    integrations: [{
      id: "in-lab",
      environment: "development",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "lab",
      environment: "development",
      mllp: { host: "127.0.0.1", port: 33010 },
    }],
    alerts: {
      channels: [{ id: "ops", webhook: { url: hook.url, secret: { env: "HOOK_SECRET" } } }],
      rules,
    },
  });
  const monitor = new AlertMonitor({
    store,
    inputs: inputsOf(store, config),
    config: () => config.alerts,
    deps: { http: sender },
    clock,
    log: memoryLogger(),
  });
  return {
    clock,
    store,
    hook,
    monitor,
    events: () =>
      hook.hooks.splice(0).map((h) => `${h.body.event} ${h.body.rule}: ${h.body.summary}`),
    async close() {
      try {
        await monitor.stop();
      } finally {
        store.close();
        await sender.close();
        await hook.close();
      }
    },
  };
}

/** Inputs over `store` and the config, with the actors the test sets. */
function withActors(world: { actors: ActorStatus[] }) {
  return (store: Store, config: Config): AlertInputs => ({
    ...engineInputs({ store, actors: () => Promise.resolve(world.actors), config: () => config }),
  });
}

const refused = "connect to 127.0.0.1:33010 failed: Connection refused";

Deno.test("a firing alert's summary follows what holds (no new notification); its resolved says how long and the worst seen", async () => {
  const world = { actors: [] as ActorStatus[] };
  const r = await rig([
    { id: "q", kind: "queue", maxAgeSeconds: 20 },
    { id: "stuck", kind: "actor-stalled", forSeconds: 1 },
  ], withActors(world));
  const stateRow = (rule: string) => r.store.kv.get(keys.alertState(rule, ACTOR));
  try {
    const actor = (over: Partial<ActorStatus>): ActorStatus => ({
      id: ACTOR,
      kind: "mllp-out",
      state: "backoff",
      queueDepth: 1,
      oldestAgeMs: 23_000,
      lastError: refused,
      ...over,
    });
    world.actors = [actor({})];
    await r.monitor.tick();
    assert.deepEqual(r.events(), [
      `firing q: queue ${ACTOR} (destination lab): oldest message 23 s old > 20 s; 1 waiting, ` +
      `backing off (${refused})`,
    ]);
    r.clock.advance(1000);
    await r.monitor.tick();
    assert.deepEqual(r.events(), [
      `firing stuck: actor ${ACTOR} (destination lab) backing off (${refused}); 1 waiting`,
    ]);

    // Paused with a reason, 20,000 more queued behind: what GET /admin/alerts shows follows.
    r.clock.advance(5 * MIN);
    const paused = {
      by: "ops",
      reason: "peer down for maintenance until 08:00",
      at: r.clock.now(),
    };
    world.actors = [actor({ state: "paused", paused, queueDepth: 20_001, oldestAgeMs: 5 * MIN })];
    await r.monitor.tick();
    assert.deepEqual(r.events(), [], "a summary changing notifies no one");
    const firing = new Map((await r.monitor.firing()).map((s) => [s.rule, s]));
    assert.equal(
      firing.get("stuck")?.summary,
      `actor ${ACTOR} (destination lab) paused by ops: peer down for maintenance until 08:00 ` +
        `(last error: ${refused}); 20001 waiting`,
    );
    assert.equal(
      firing.get("q")?.summary,
      `queue ${ACTOR} (destination lab): oldest message 300 s old > 20 s; 20001 waiting, paused ` +
        `by ops: peer down for maintenance until 08:00 (last error: ${refused})`,
    );
    assert.deepEqual(firing.get("q")?.worst, { depth: 20_001, oldestAgeMs: 5 * MIN });

    // Nothing it says changed: nothing written.
    const before = (await stateRow("stuck")).versionstamp;
    r.clock.advance(30_000);
    await r.monitor.tick();
    assert.equal((await stateRow("stuck")).versionstamp, before, "no write without a change");
    assert.deepEqual(r.events(), []);

    // Resumed and draining: the numbers fall, the worst stays.
    r.clock.advance(13.5 * MIN);
    world.actors = [actor({ state: "sending", queueDepth: 3, oldestAgeMs: 19 * MIN })];
    await r.monitor.tick();
    r.clock.advance(30_000);
    world.actors = [actor({ state: "sending", queueDepth: 2, oldestAgeMs: 21_000 })];
    await r.monitor.tick();
    assert.equal(
      (await r.monitor.firing()).find((s) => s.rule === "q")?.summary,
      `queue ${ACTOR} (destination lab): oldest message 21 s old > 20 s; 2 waiting, sending`,
    );
    assert.deepEqual(r.events(), []);

    // Drained, 20 minutes after it fired.
    r.clock.advance(30_000);
    world.actors = [actor({ state: "idle", queueDepth: 0, oldestAgeMs: undefined })];
    await r.monitor.tick();
    assert.deepEqual(r.events().sort(), [
      `resolved q: resolved after 20 min: queue ${ACTOR} (destination lab); at worst 20001 ` +
      `waiting, oldest message 19 min old`,
      // Its last cause known (an attempt under way says less: it only holds the alert).
      `resolved stuck: resolved after 20 min: actor ${ACTOR} (destination lab) paused by ops: ` +
      `peer down for maintenance until 08:00 (last error: ${refused}); 20001 waiting`,
    ]);
    assert.deepEqual(await r.monitor.firing(), []);
  } finally {
    await r.close();
  }
});

Deno.test("failed-logs alert names the newest FAILED log, its destination and why, and follows newer ones", async () => {
  const r = await rig(
    [{ id: "failures", kind: "failed-logs", threshold: 1, windowSeconds: 600 }],
    withActors({ actors: [] }),
  );
  /** A message from in-lab routed to `lab`, its SEND log then FAILED after an AE. */
  const fail = async (reason: string, attempt?: string) => {
    const messageId = r.store.newId();
    const stored = await r.store.accept({
      queue: "mllp:in-lab",
      messageId,
      origin: { kind: "integration", id: "in-lab" },
      payload: new TextEncoder().encode("MSH|^~\\&|"),
      contentType: "application/hl7-v2",
      log: { type: "RECEIVE", integrationId: "in-lab" },
      deliveries: [{
        queue: ACTOR,
        destinationId: "lab",
        messageId,
        originalId: messageId,
        log: { integrationId: "in-lab" },
      }],
    });
    assert.equal(stored.status, "stored");
    const logId = stored.status === "stored" ? stored.sendLogIds![0]! : "";
    await r.store.updateLog(logId, {
      status: "FAILED",
      reason,
      ...(attempt ? { attempt: { at: r.clock.now(), outcome: "FAILED", reason: attempt } } : {}),
    });
    return logId;
  };
  try {
    const first = await fail("AE: Patient MRN 12345 not found in EMPI");
    await r.monitor.tick();
    assert.deepEqual(r.events(), [
      `firing failures: at least 1 failed log (all) within 600 s; newest ${first} to lab (from ` +
      `in-lab): AE: Patient MRN 12345 not found in EMPI`,
    ]);

    // A newer failure (a skip, after an AR): the summary names it, no one is notified again.
    r.clock.advance(30_000);
    const second = await fail("skipped by ops: peer asked", "AR: down for maintenance");
    await r.monitor.tick();
    assert.deepEqual(r.events(), []);
    assert.equal(
      (await r.monitor.firing())[0]?.summary,
      `at least 1 failed log (all) within 600 s; newest ${second} to lab (from in-lab): skipped ` +
        `by ops: peer asked (last attempt: AR: down for maintenance)`,
    );

    // Out of the window: resolved, saying how long it lasted.
    r.clock.advance(601_000);
    await r.monitor.tick();
    assert.deepEqual(r.events(), [
      `resolved failures: resolved after 11 min: at least 1 failed log (all) within 600 s; newest ` +
      `${second} to lab (from in-lab): skipped by ops: peer asked (last attempt: AR: down for ` +
      `maintenance)`,
    ]);
  } finally {
    await r.close();
  }
});
