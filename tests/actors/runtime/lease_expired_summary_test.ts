/**
 * Leases lapsed together (the process paused: SIGSTOP, a VM freeze, a long GC; or renewals that
 * did not get through) are reported on one `actor.lease-expired` line per fencing pass: how many
 * actors, the first ten, the real time since the last renewal, and, when the lease loops' own
 * timers fired late by a renewal period or more, that the process did not run meanwhile. Not one
 * line per actor naming the threshold. A ManualClock is the clock the leases age on and the lease
 * loops run on; the KV is real (in memory).
 * @module
 */

import assert from "node:assert/strict";
import { type Clock, ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { idleActor } from "./fixtures.ts";

/**
 * A ManualClock whose time can also {@link jump}: move on without any timer firing yet, as when
 * a paused process runs again and some other callback comes before the timers'.
 */
class PauseClock implements Clock {
  readonly #timers = new ManualClock(0);
  #t = Date.UTC(2026, 0, 1);
  now = () => this.#t;
  monotonic = () => this.#t;
  sleep = (ms: number, signal?: AbortSignal) => this.#timers.sleep(ms, signal);
  get pending(): number {
    return this.#timers.pending;
  }
  /** Time passes and the timers due fire. */
  advance(ms: number): void {
    this.#t += ms;
    this.#timers.advance(ms);
  }
  /** Time passes; the timers due have not fired yet (they do at the next {@link advance}). */
  jump(ms: number): void {
    this.#t += ms;
    this.#lag += ms;
  }
  #lag = 0;
  /** Fires the timers the jumps made due. */
  catchUp(): void {
    this.#timers.advance(this.#lag);
    this.#lag = 0;
  }
}

/** 15 actors under leases of 9 s (renewed every 3 s, stopped after 6 s) on `clock`. */
async function fifteenActors() {
  const clock = new PauseClock();
  const kv = await Deno.openKv(":memory:");
  const store = new Store(kv, { node: "n1" });
  const leases = store.leases({ ttlMs: 9_000, elapsed: () => clock.monotonic() });
  const log = memoryLogger();
  const ids = Array.from({ length: 15 }, (_, i) => `mllp-out:dest-${String(i).padStart(2, "0")}`);
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
  for (const id of ids) assert.ok(leases.valid(id));
  // The renewal and fencing loops asleep on the manual clock.
  await waitFor("the lease loops asleep", () => clock.pending >= 2);
  return { clock, store, leases, log, ids, stopped, supervisor };
}

const expiredLines = (lines: string[]) => lines.filter((l) => l.includes("actor.lease-expired"));

Deno.test("a 40 s pause of the process lapses every lease: one actor.lease-expired line for all, with the real gap and the pause named", async () => {
  const { clock, store, log, ids, stopped, supervisor } = await fifteenActors();
  try {
    clock.advance(40_000); // SIGSTOP 40 s, then SIGCONT: every timer fires at once, late
    await waitFor("every actor stopped", () => stopped.size === ids.length);
    const lines = expiredLines(log.lines);
    assert.equal(lines.length, 1, lines.join("\n"));
    const first10 = JSON.stringify(ids.slice(0, 10));
    assert.ok(
      lines[0]!.includes(
        `WARN  actor.lease-expired count=15 actors=${first10} more=5 sinceLastRenewalMs=40000 ` +
          `notRunMs=39750 reason="not renewed for 40000 ms, past the 6000 ms a lease may go ` +
          `unrenewed: the process did not run for 39750 ms (paused, or its event loop blocked)"`,
      ),
      lines[0],
    );
  } finally {
    await supervisor.stop();
    store.close();
  }
});

Deno.test("leases lapsed while the process ran on time (renewals not getting through) say the real gap, and no pause", async () => {
  const { clock, store, leases, log, ids, stopped, supervisor } = await fifteenActors();
  // The store refuses every renewal from now on (unreachable).
  (leases as { renew: (actors: string[]) => Promise<string[]> }).renew = () =>
    Promise.reject(new Error("KV unreachable"));
  try {
    // Time passes in steps of the fencing loop's period: every timer on time.
    for (let i = 0; i < 40 && stopped.size < ids.length; i++) {
      clock.advance(250);
      await new Promise((r) => setTimeout(r, 0)); // lets the woken loops run
    }
    await waitFor("every actor stopped", () => stopped.size === ids.length);
    const lines = expiredLines(log.lines);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /actor\.lease-expired count=15 actors=\[.*\] more=5 sinceLastRenewalMs=6000 reason="not renewed for 6000 ms, past the 6000 ms a lease may go unrenewed"$/,
    );
  } finally {
    await supervisor.stop();
    store.close();
  }
});

Deno.test("an actor about to send after a pause, before the fencing loop looks, stops every lapsed actor with one line", async () => {
  const { clock, store, log, ids, stopped, supervisor } = await fifteenActors();
  try {
    // The process runs again after 20 s, and a deliverer asks to send before any timer fired.
    clock.jump(20_000);
    assert.equal(supervisor.beginSend(ids[3]!), false);
    await waitFor("every actor stopped", () => stopped.size === ids.length);
    let lines = expiredLines(log.lines);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /count=15 actors=\[.*\] more=5 sinceLastRenewalMs=20000 notRunMs=19750 reason="not renewed for 20000 ms, past the 6000 ms a lease may go unrenewed: the process did not run for 19750 ms \(paused, or its event loop blocked\)"$/,
    );
    clock.catchUp(); // the lease loops' timers fire now: nothing more to say
    await new Promise((r) => setTimeout(r, 0));
    lines = expiredLines(log.lines);
    assert.equal(lines.length, 1, lines.join("\n"));
  } finally {
    await supervisor.stop();
    store.close();
  }
});
