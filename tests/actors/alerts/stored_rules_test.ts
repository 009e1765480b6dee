/**
 * Rules an older engine stored through `PUT /admin/alerts` (in KV, unchecked by this version until
 * read): those the current schema refuses are set aside for the config's, with one WARN naming
 * each problem at its path and `storedRulesProblems` in `GET /admin/alerts`; valid ones still
 * apply. Real KV file, real webhook receiver, manual clock.
 */

import assert from "node:assert/strict";
import { alertsAdmin } from "../../../actors/alerts/admin.ts";
import { engineInputs } from "../../../actors/alerts/inputs.ts";
import { AlertMonitor } from "../../../actors/alerts/monitor.ts";
import type { Config } from "../../../actors/config/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { keys } from "../../../actors/store/keys.ts";
import { Store } from "../../../actors/store/store.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { NodemailerSender } from "../../../transports/smtp/mod.ts";
import { failLogs, hookConfig, startHookReceiver } from "./fixture.ts";

/** One monitor on a fresh KV file, with `stored` written under the rules key first (raw). */
async function withMonitor(
  config: Config,
  stored: unknown,
  body: (
    m: {
      store: Store;
      monitor: AlertMonitor;
      clock: ManualClock;
      log: ReturnType<typeof memoryLogger>;
    },
  ) => Promise<void>,
): Promise<void> {
  const clock = new ManualClock();
  const dir = await Deno.makeTempDir({ prefix: "alerts-stored-" });
  const sender = new FetchSender();
  const log = memoryLogger();
  const store = await Store.open({ path: `${dir}/kv`, node: "n1", now: () => clock.now() });
  // As an older engine's PUT left them: written as they were, never checked since.
  await store.kv.set(keys.alertRules, stored);
  const monitor = new AlertMonitor({
    store,
    inputs: engineInputs({ store, actors: () => Promise.resolve([]), config: () => config }),
    config: () => config.alerts,
    deps: { http: sender, mail: new NodemailerSender() },
    clock,
    log,
  });
  try {
    await body({ store, monitor, clock, log });
  } finally {
    try {
      await monitor.stop();
    } finally {
      store.close();
      await sender.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
}

/** Starts the loop and runs `passes` evaluations, `stepMs` apart on the manual clock. */
async function run(monitor: AlertMonitor, clock: ManualClock, passes: number, stepMs: number) {
  let tick = monitor.nextTick();
  monitor.start();
  await tick;
  for (let i = 1; i < passes; i++) {
    tick = monitor.nextTick();
    clock.advance(stepMs);
    await tick;
  }
}

const invalidWarns = (lines: string[]) =>
  lines.filter((l) => l.includes("alerts.stored-rules-invalid"));

Deno.test("stored alert rules the current schema refuses (remindEverySeconds: 1 from an older engine) are set aside: the config's apply, one WARN, shown in GET /admin/alerts", async () => {
  const hook = startHookReceiver();
  try {
    // The config's rule: fires, never reminds.
    const config = hookConfig(hook, [{
      id: "failures",
      kind: "failed-logs",
      threshold: 1,
      windowSeconds: 3600,
    }]);
    const stored = [{
      id: "failures",
      kind: "failed-logs",
      threshold: 1,
      windowSeconds: 3600,
      remindEverySeconds: 1,
    }];
    await withMonitor(config, stored, async ({ store, monitor, clock, log }) => {
      await failLogs(store, 1);
      await run(monitor, clock, 4, 30_000);
      assert.deepEqual(
        hook.hooks.map((h) => h.body.event),
        ["firing"],
        "the config's rule applies: no reminder every second",
      );
      const view = await alertsAdmin(monitor, () => config).view();
      assert.equal(view.source, "config");
      assert.deepEqual(view.rules, config.alerts.rules);
      assert.deepEqual(view.storedRulesProblems, [{
        path: "$.rules[0].remindEverySeconds",
        message: "at least 60 seconds: reminders would flood the channels",
      }]);
      const warns = invalidWarns(log.lines);
      assert.equal(warns.length, 1, `logged once over 4 passes and a view:\n${warns.join("\n")}`);
      assert.match(warns[0]!, / WARN /);
      assert.match(warns[0]!, /\$\.rules\[0\]\.remindEverySeconds: at least 60 seconds/);
      assert.match(warns[0]!, /config's rules/);
      assert.match(warns[0]!, /PUT \/admin\/alerts/);
      assert.match(warns[0]!, /\\"rules\\": null/);
    });
  } finally {
    await hook.close();
  }
});

Deno.test("stored alert rules of any shape an older engine left are checked: every problem at its path, nothing of them used", async () => {
  const hook = startHookReceiver();
  try {
    const config = hookConfig(hook, []);
    const stored = [
      { id: "q", kind: "queue" },
      { id: "old", kind: "renamed-kind", threshold: 1 },
    ];
    await withMonitor(config, stored, async ({ monitor, log }) => {
      assert.deepEqual(await monitor.rules(), []);
      const set = await monitor.ruleSet();
      assert.equal(set.source, "config");
      const paths = (set.storedRulesProblems ?? []).map((p) => p.path);
      assert.ok(paths.includes("$.rules[0]"), paths.join(", "));
      assert.ok(paths.some((p) => p.startsWith("$.rules[1]")), paths.join(", "));
      assert.equal(invalidWarns(log.lines).length, 1);
    });
  } finally {
    await hook.close();
  }
});

Deno.test("valid stored alert rules still replace the config's: after set-aside ones, a valid PUT applies at once, without a new WARN", async () => {
  const hook = startHookReceiver();
  try {
    // The config's rule would never fire on one failure.
    const config = hookConfig(hook, [{
      id: "failures",
      kind: "failed-logs",
      threshold: 100,
      windowSeconds: 3600,
    }]);
    const rule = {
      id: "failures",
      kind: "failed-logs",
      threshold: 1,
      windowSeconds: 3600,
      remindEverySeconds: 60,
    };
    await withMonitor(config, [{ ...rule, remindEverySeconds: 1 }], async (m) => {
      await failLogs(m.store, 1);
      await run(m.monitor, m.clock, 2, 30_000);
      assert.equal(hook.hooks.length, 0, "set aside: the config's threshold of 100 applies");
      const admin = alertsAdmin(m.monitor, () => config);
      assert.equal((await admin.view()).source, "config");
      // The PUT wakes the loop: the stored rule fires at once, then reminds after 60 s.
      const woken = m.monitor.nextTick();
      const put = await admin.put({ rules: [rule] });
      assert.equal(put.ok, true);
      await woken;
      for (const step of [30_000, 30_000]) {
        const tick = m.monitor.nextTick();
        m.clock.advance(step);
        await tick;
      }
      assert.deepEqual(hook.hooks.map((h) => h.body.event), ["firing", "reminder"]);
      const view = await admin.view();
      assert.equal(view.source, "admin");
      assert.deepEqual(view.rules, [rule]);
      assert.equal(view.storedRulesProblems, undefined);
      assert.equal(invalidWarns(m.log.lines).length, 1, "only the one for the set-aside rules");
    });
  } finally {
    await hook.close();
  }
});
