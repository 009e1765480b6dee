/**
 * One alert rule on a monitor whose inputs the test sets (a {@link World}), with a webhook
 * receiver as its channel and a ManualClock; {@link cycle} runs steps, one evaluation each.
 * @module
 */

import assert from "node:assert/strict";
import type { AlertInputs } from "../../../actors/alerts/conditions.ts";
import { AlertMonitor } from "../../../actors/alerts/monitor.ts";
import type { ActorStatus } from "../../../actors/runtime/actor.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/store.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { alertConfig, type HookReceiver, startHookReceiver } from "./fixture.ts";

/** What the engine shows, set by each test step. */
export interface World {
  actors: ActorStatus[];
  lastReceived?: number;
  health: { writable: boolean; since: number; reason?: string };
  expiries: { subject: string; notAfter: number }[];
}

/** A monitor of one rule `r` (reminding every 600 s unless the rule says otherwise). */
export interface RuleRig {
  world: World;
  clock: ManualClock;
  hook: HookReceiver;
  monitor: AlertMonitor;
  /** Notifications the webhook got since the last call, as `event:subject`. */
  events(): string[];
  close(): Promise<void>;
}

/**
 * Starts a {@link RuleRig} for `rule` on a Monday, 12:00 UTC (on `options.clock`, a ManualClock
 * set to that time by default).
 */
export async function ruleRig(
  rule: Record<string, unknown>,
  options: { clock?: ManualClock } = {},
): Promise<RuleRig> {
  const hook = startHookReceiver();
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 0, 5, 12));
  const store = await Store.open({ path: ":memory:", node: "n1", now: () => clock.now() });
  const sender = new FetchSender();
  const world: World = { actors: [], health: { writable: true, since: 0 }, expiries: [] };
  const inputs: AlertInputs = {
    countFailed: () => Promise.resolve(0),
    actors: () => Promise.resolve(world.actors),
    lastReceived: () => Promise.resolve(world.lastReceived),
    storeHealth: () => world.health,
    expiries: () => world.expiries,
    actorOfDestination: (id) => `https:${id}`,
  };
  const config = alertConfig({
    integrations: [{
      id: "lab",
      environment: "development",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "lab",
      environment: "development",
      https: { url: "http://127.0.0.1:9/x", verificationToken: { env: "HOOK_SECRET" } },
    }],
    alerts: {
      channels: [{ id: "ops", webhook: { url: hook.url, secret: { env: "HOOK_SECRET" } } }],
      rules: [{ id: "r", remindEverySeconds: 600, ...rule }],
    },
  });
  const monitor = new AlertMonitor({
    store,
    inputs,
    config: () => config.alerts,
    deps: { http: sender },
    clock,
    log: memoryLogger(),
  });
  return {
    world,
    clock,
    hook,
    monitor,
    events: () => hook.hooks.splice(0).map((h) => `${h.body.event}:${h.body.subject}`),
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

/**
 * Runs `steps` on a {@link ruleRig} for `rule`: each sets the world (and moves the clock), then
 * one evaluation runs, and the notifications sent must be those the step returned.
 */
export async function cycle(
  rule: Record<string, unknown>,
  steps: (w: World, clock: ManualClock) => (() => string[])[],
): Promise<void> {
  const rig = await ruleRig(rule);
  try {
    for (const [i, step] of steps(rig.world, rig.clock).entries()) {
      const expect = step();
      await rig.monitor.tick();
      assert.deepEqual(rig.events(), expect, `step ${i}`);
    }
  } finally {
    await rig.close();
  }
}

/** An actor's status: `https:lab`, idle and empty unless `over` says otherwise. */
export const actor = (over: Partial<ActorStatus>): ActorStatus => ({
  id: "https:lab",
  kind: "https",
  state: "idle",
  queueDepth: 0,
  ...over,
});
