/**
 * `actor.lease-expired` names a truthful reason when the process's renewal rounds went through
 * but did not renew the expired leases (their renewal failed on its own, as after a SIGCONT while
 * the KV file was locked): not "not renewed for <the last round> ms, past the 6000 ms", a gap
 * shorter than the limit it claims to be past. A ManualClock is the lease clock; the KV is real
 * (in memory).
 * @module
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { idleActor } from "./fixtures.ts";

Deno.test("leases a recent renewal round did not renew are reported as such, never as 'not renewed for less than the limit, past the limit'", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const kv = await Deno.openKv(":memory:");
  const store = new Store(kv, { node: "n1" });
  const leases = store.leases({ ttlMs: 9_000, elapsed: () => clock.monotonic() });
  const log = memoryLogger();
  const ids = ["mllp-out:a", "mllp-out:b"];
  const stopped = new Set<string>();
  const supervisor = new Supervisor({
    store,
    leases,
    log,
    pollMs: 0,
    alwaysOn: () => ids,
    factory: (id) => idleActor(id, stopped),
    leaseClock: clock,
  });
  await supervisor.start();
  try {
    await waitFor("the lease loops asleep", () => clock.pending >= 2);
    // Every round goes through (nothing refused) but renews nothing.
    (leases as { renew: (actors: string[]) => Promise<string[]> }).renew = () =>
      Promise.resolve([]);
    for (let i = 0; i < 40 && stopped.size < ids.length; i++) {
      clock.advance(250);
      await new Promise((r) => setTimeout(r, 0)); // lets the woken loops run
    }
    await waitFor("both actors stopped", () => stopped.size === ids.length);
    const lines = log.lines.filter((l) => l.includes("actor.lease-expired"));
    assert.equal(lines.length, 1, lines.join("\n"));
    const gap = /reason="not renewed for (\d+) ms, past the (\d+) ms/.exec(lines[0]!);
    assert.ok(gap === null || Number(gap[1]) >= Number(gap[2]), lines[0]);
    assert.match(
      lines[0]!,
      /reason="not renewed by the last renewal round \(\d+ ms ago, it did not renew these leases\), past the 6000 ms a lease may go unrenewed"$/,
    );
  } finally {
    await supervisor.stop();
    store.close();
  }
});
