/**
 * The alert monitor counts durations on the monotonic clock: a wall clock stepped forward an hour
 * neither fires a rule before its `forSeconds` (from the first sight or from a known `since`),
 * nor a no-traffic rule before its silence, nor a reminder before its interval; one stepped back
 * neither holds a reminder, a no-traffic alert nor a retry back by the step. A webhook receiver,
 * a ManualClock stepped with `stepWall`.
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { actor, cycle, ruleRig } from "./rule_rig.ts";

const HOUR = 3_600_000;

Deno.test("actor-stalled rule: forSeconds and the reminder interval are not ended by a forward wall-clock step, nor stretched by a backward one", async () => {
  await cycle({ kind: "actor-stalled", forSeconds: 300 }, (w, c) => [
    () => (w.actors = [actor({ state: "backoff", lastError: "connection refused" })], []),
    () => (c.stepWall(HOUR), []),
    () => (c.advance(300_000), ["firing:https:lab"]),
    () => (c.stepWall(HOUR), c.advance(1_000), []),
    () => (c.stepWall(-3 * HOUR), c.advance(598_000), []),
    () => (c.advance(1_000), ["reminder:https:lab"]),
    () => (w.actors = [actor({ state: "idle" })], ["resolved:https:lab"]),
    // Paused since a known time, 100 s ago: 200 s more, whatever the wall clock does meanwhile.
    () => (w.actors = [actor({ state: "paused", paused: { by: "ops", at: c.now() - 100_000 } })],
      []),
    () => (c.stepWall(HOUR), []),
    () => (c.advance(199_000), []),
    () => (c.advance(1_000), ["firing:https:lab"]),
  ]);
});

Deno.test("no-traffic rule: the silence since the start or the last message is counted on the monotonic clock", async () => {
  await cycle({ kind: "no-traffic", integration: "lab", forSeconds: 600 }, (w, c) => [
    () => [],
    () => (c.stepWall(HOUR), []),
    () => (c.advance(600_000), ["firing:lab"]),
    () => (w.lastReceived = c.now(), ["resolved:lab"]),
    () => (c.stepWall(HOUR), []),
    () => (c.advance(599_000), []),
    () => (c.advance(1_000), ["firing:lab"]),
    () => (w.lastReceived = c.now(), ["resolved:lab"]),
    () => (c.stepWall(-2 * HOUR), c.advance(600_000), ["firing:lab"]),
  ]);
});

Deno.test("a failed webhook is retried after its 2 s backoff though the wall clock stepped back an hour meanwhile", async () => {
  const rig = await ruleRig({ kind: "queue", actor: "https:lab", maxDepth: 10 });
  try {
    rig.world.actors = [actor({ queueDepth: 11 })];
    rig.hook.failNext.push(500);
    let tick = rig.monitor.nextTick();
    rig.monitor.start();
    await tick; // the first evaluation: the firing's attempt 1 fails
    assert.deepEqual(rig.events(), []);
    const [delivery] = (await rig.monitor.history()).notifications[0]!.deliveries;
    assert.equal(delivery?.status, "pending");
    assert.equal(delivery?.attempts, 1);
    await waitFor(
      "the loop asleep until the retry",
      () => rig.clock.pending === 1 && rig.clock.nextWake === rig.clock.monotonic() + 2_000,
    );
    tick = rig.monitor.nextTick();
    rig.clock.stepWall(-HOUR);
    rig.clock.advance(2_000);
    await tick;
    assert.deepEqual(rig.events(), ["firing:https:lab"]);
    // The next evaluation is 30 s after this one on the monotonic clock, not an hour later.
    await waitFor(
      "the loop asleep until the next evaluation",
      () => rig.clock.pending === 1 && rig.clock.nextWake === rig.clock.monotonic() + 30_000,
    );
  } finally {
    await rig.close();
  }
});
