/**
 * Time since a timestamp seen for the first time is never below zero, though the monotonic clock
 * moves between two readings as a real one does: a rule without `forSeconds` (a queue over its
 * depth) fires at the first evaluation that sees it, not one evaluation later.
 */

import assert from "node:assert/strict";
import { WallAnchors } from "../../../actors/alerts/anchors.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { actor, ruleRig } from "./rule_rig.ts";

/** A ManualClock whose monotonic reading moves a microsecond each time it is read. */
class MovingClock extends ManualClock {
  #reads = 0;

  override monotonic(): number {
    return super.monotonic() + ++this.#reads / 1000;
  }
}

Deno.test("WallAnchors: a timestamp first seen now is 0 ms old or more, read on a clock that moves between readings", () => {
  const clock = new MovingClock(Date.UTC(2026, 0, 5, 12));
  const anchors = new WallAnchors(clock);
  const since = anchors.since("since\u0000r\u0000https:lab", clock.now());
  assert.ok(since >= 0, `${since} ms since now`);
  clock.advance(1_000);
  const later = anchors.since("since\u0000r\u0000https:lab", Date.UTC(2026, 0, 5, 12));
  assert.ok(later >= 1_000 && later < 1_001, `${later} ms a second later`);
});

Deno.test("a queue rule without forSeconds fires at the first evaluation that sees the queue over its depth, on a clock that moves between readings", async () => {
  const rig = await ruleRig(
    { kind: "queue", actor: "https:lab", maxDepth: 10 },
    { clock: new MovingClock(Date.UTC(2026, 0, 5, 12)) },
  );
  try {
    rig.world.actors = [actor({ queueDepth: 11 })];
    await rig.monitor.tick();
    assert.deepEqual(rig.events(), ["firing:https:lab"]);
    rig.world.actors = [actor({ queueDepth: 0 })];
    await rig.monitor.tick();
    assert.deepEqual(rig.events(), ["resolved:https:lab"]);
  } finally {
    await rig.close();
  }
});
