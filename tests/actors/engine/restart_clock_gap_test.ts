/**
 * A clock stepped while the engine was stopped: the engine keeps the wall time it was last seen
 * running in one KV row, and a start over an hour away from it (either way) holds the retention
 * sweep for 24 h with one WARN saying what to do, rather than delete the whole history; a short
 * stop sweeps as usual. Real KV files; a ManualClock plays the stops, steps and hours, and one
 * clock across two engines plays a restart (the second engine's clock watch starts from the
 * stepped clock, as a process started after the step does).
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { keys } from "../../../actors/store/keys.ts";
import { LAST_SEEN_EVERY_MS } from "../../../actors/store/last_seen.ts";
import { Store } from "../../../actors/store/mod.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitFor } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const enc = new TextEncoder();

function config(kv: string) {
  const parsed = parseConfig({
    node: { id: "n1" },
    kv: { path: kv },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    limits: { logRetentionDays: 1 },
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

/** The last-seen row's time, if any. */
async function lastSeen(store: Store): Promise<number | undefined> {
  return (await store.kv.get<{ at: number }>(keys.lastSeen)).value?.at;
}

/** A running engine on `path` with `clock` (its store shares the clock), and its store. */
async function engineOn(
  path: string,
  clock: ManualClock,
  skew: { ms: number } = { ms: 0 },
): Promise<{ e: TestEngine; store: Store; lines: string[] }> {
  const store = await Store.open({ path, node: "n1", now: () => clock.now() + skew.ms });
  const log = memoryLogger();
  try {
    const e = await startEngine(config(path), { clock, store, log });
    return { e, store, lines: log.lines };
  } catch (error) {
    store.close();
    throw error;
  }
}

const count = (lines: string[], event: string) =>
  lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`)).length;

/** A ManualClock that knows who sleeps: a test moves it on once the housekeeping loop sleeps. */
class TickClock extends ManualClock {
  readonly asleep = new Set<{ from: number; ms: number }>();
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const s = { from: this.monotonic(), ms };
    this.asleep.add(s);
    return super.sleep(ms, signal).then(() => void this.asleep.delete(s));
  }
}

/** The housekeeping tick is over: its loop sleeps again, 10 minutes from the clock's now. */
async function tickDone(clock: TickClock): Promise<void> {
  await waitFor(
    "the housekeeping loop asleep",
    () =>
      [...clock.asleep].some((s) => s.ms === LAST_SEEN_EVERY_MS && s.from === clock.monotonic()),
  );
}

/** The first sweep tick has run: it swept, or it was held (for whichever reason). */
const ticked = (lines: string[]) =>
  count(lines, "engine.housekeeping") + count(lines, "retention.held") +
      count(lines, "retention.held-clock-step") > 0;

/** A first engine on a fresh KV file in `dir` that stores one finished message and stops cleanly. */
async function storedAndStopped(dir: string): Promise<{
  path: string;
  clock: TickClock;
  message: string;
}> {
  const path = `${dir}/kv`;
  const clock = new TickClock();
  const first = await engineOn(path, clock);
  try {
    // A clean stop: the row says when.
    return { path, clock, message: await finished(first.store, "written before the stop") };
  } finally {
    await first.e.close();
  }
}

Deno.test("a restart after the clock was stepped 31 days forward while the engine was stopped holds the retention sweep (nothing deleted) and warns once, with what to do", async () => {
  await using dir = await tempDir({ prefix: "restart-clock-gap-" });
  const { path, clock, message: kept } = await storedAndStopped(dir.path);

  clock.stepWall(31 * DAY); // libfaketime's +31 d, while stopped
  const second = await engineOn(path, clock);
  try {
    await waitFor("the first sweep tick", () => ticked(second.lines));
    assert.ok(await second.store.getMessage(kept), "the history is kept");
    assert.equal(count(second.lines, "engine.housekeeping"), 0, "nothing swept");
    const warned = second.lines.filter((l) => l.includes(" retention.held-after-downtime "));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /^\S+ WARN /);
    assert.match(warned[0]!, /downFor="31 days"/);
    assert.match(warned[0]!, new RegExp(`resumesAt=${new Date(clock.now() + DAY).toISOString()}`));
    assert.match(warned[0]!, /it cannot tell which/);
    assert.match(warned[0]!, /correct it \(NTP\) and restart the engine/);
    assert.match(warned[0]!, /if the downtime was real, nothing to do/);
    assert.ok(await second.store.getMessage(kept), "the history is kept");

    await tickDone(clock);
    clock.advance(HOUR); // the next sweep is due: still held, not said again
    await waitFor("the second tick, held", () => count(second.lines, "retention.held") > 1);
    assert.equal(count(second.lines, "retention.held-after-downtime"), 1, "warned once");
    assert.equal(count(second.lines, "engine.housekeeping"), 0);
    assert.ok(await second.store.getMessage(kept), "the history is kept");
  } finally {
    await second.e.close();
  }
});

Deno.test("a restart after a 10-minute stop sweeps as usual, and the last-seen row moves on", async () => {
  await using dir = await tempDir({ prefix: "restart-clock-gap-" });
  const path = `${dir.path}/kv`;
  const clock = new TickClock();
  const skew = { ms: 0 };
  const first = await engineOn(path, clock, skew);
  let old: string;
  try {
    await waitFor(
      "the first last-seen row",
      async () => (await lastSeen(first.store)) !== undefined,
    );
    skew.ms = -2 * DAY;
    old = await finished(first.store, "two days old");
    skew.ms = 0;
  } finally {
    await first.e.close();
  }

  clock.advance(10 * MINUTE);
  const second = await engineOn(path, clock);
  try {
    await waitFor("the first sweep", () => count(second.lines, "engine.housekeeping") > 0);
    assert.equal(await second.store.getMessage(old), null, "past the 1-day retention: swept");
    assert.equal(count(second.lines, "retention.held-after-downtime"), 0);
    assert.equal(count(second.lines, "retention.held"), 0);
    await waitFor(
      "the row at the restart's time",
      async () => (await lastSeen(second.store)) === clock.now(),
    );
  } finally {
    await second.e.close();
  }
});

Deno.test("the hold after a 31-day gap ends 24 h after start (monotonic), and the sweep then deletes what is past retention", async () => {
  await using dir = await tempDir({ prefix: "restart-clock-gap-" });
  const { path, clock, message } = await storedAndStopped(dir.path);

  clock.stepWall(31 * DAY);
  const second = await engineOn(path, clock);
  try {
    await waitFor("the first sweep tick", () => ticked(second.lines));
    assert.ok(await second.store.getMessage(message), "held at start");
    assert.equal(count(second.lines, "retention.held"), 1);
    await tickDone(clock);
    clock.advance(23 * HOUR);
    await waitFor("the tick at 23 h, held", () => count(second.lines, "retention.held") === 2);
    assert.ok(await second.store.getMessage(message), "still held at 23 h");
    await tickDone(clock);
    clock.advance(HOUR);
    await waitFor("the sweep at 24 h", () => count(second.lines, "engine.housekeeping") === 1);
    assert.equal(await second.store.getMessage(message), null, "31 days old: swept");
    assert.equal(count(second.lines, "retention.resumed"), 1);
    await waitFor(
      "the row at the clock's time",
      async () => (await lastSeen(second.store)) === clock.now(),
    );
  } finally {
    await second.e.close();
  }
});

Deno.test("the last-seen row is written at the first tick, every 10 minutes, and at a clean stop", async () => {
  await using dir = await tempDir({ prefix: "restart-clock-gap-" });
  const path = `${dir.path}/kv`;
  const clock = new TickClock();
  const started = clock.now();
  const { e, store } = await engineOn(path, clock);
  try {
    await waitFor("the row at start", async () => (await lastSeen(store)) === started);
    const row = await store.kv.get<{ at: number; node: string }>(keys.lastSeen);
    assert.deepEqual(row.value, { at: started, node: "n1" });
    await tickDone(clock);
    clock.advance(10 * MINUTE);
    await waitFor("the row 10 minutes on", async () => (await lastSeen(store)) === clock.now());
    await tickDone(clock);
    clock.advance(5 * MINUTE); // no write due
  } finally {
    await e.close();
  }
  const after = await Store.open({ path, node: "t" });
  try {
    assert.equal(await lastSeen(after), started + 15 * MINUTE, "written at the stop");
  } finally {
    after.close();
  }
});

Deno.test("a restart with the clock stepped 31 days back while stopped holds and warns; the row keeps the time last seen unheld, so correcting the clock and restarting lifts the hold", async () => {
  await using dir = await tempDir({ prefix: "restart-clock-gap-" });
  const { path, clock } = await storedAndStopped(dir.path);
  const stoppedAt = clock.now();

  clock.stepWall(-31 * DAY);
  const second = await engineOn(path, clock);
  try {
    await waitFor("the first sweep tick", () => ticked(second.lines));
    const warned = second.lines.filter((l) => l.includes(" retention.held-after-downtime "));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /clockBehindBy="31 days"/);
    assert.match(warned[0]!, /stepped back while the engine was stopped/);
  } finally {
    await second.e.close();
  }

  const between = await Store.open({ path, node: "t" });
  try {
    const row = (await between.kv.get<{ at: number; held?: { since: number; seen: number } }>(
      keys.lastSeen,
    )).value;
    assert.equal(row?.at, stoppedAt, "the time last seen unheld stays");
    assert.deepEqual(row?.held, { since: clock.now(), seen: clock.now() }, "the hold noted");
  } finally {
    between.close();
  }

  clock.stepWall(31 * DAY); // the operator corrects the clock and restarts
  const third = await engineOn(path, clock);
  try {
    await waitFor(
      "the row at the restart",
      async () => (await lastSeen(third.store)) === clock.now(),
    );
    assert.equal(count(third.lines, "retention.held-after-downtime"), 0);
    assert.equal(count(third.lines, "retention.held"), 0);
  } finally {
    await third.e.close();
  }
});

Deno.test("a restart within 24 h of a forward step noticed while running keeps the sweep held until 24 h after it", async () => {
  await using dir = await tempDir({ prefix: "restart-clock-gap-" });
  const path = `${dir.path}/kv`;
  const clock = new TickClock();
  const first = await engineOn(path, clock);
  let kept: string;
  try {
    await waitFor(
      "the first last-seen row",
      async () => (await lastSeen(first.store)) !== undefined,
    );
    kept = await finished(first.store, "written before the step");
    await tickDone(clock);
    clock.stepWall(31 * DAY);
    clock.advance(HOUR); // the sweep tick notices the step itself, and holds
    await waitFor(
      "the running hold",
      () => count(first.lines, "retention.held-clock-step") === 1,
    );
  } finally {
    await first.e.close();
  }

  const second = await engineOn(path, clock); // its clock watch knows nothing of the step
  try {
    await waitFor("the first tick, held", () => count(second.lines, "retention.held") > 0);
    const warned = second.lines.filter((l) => l.includes(" retention.held-after-downtime "));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, new RegExp(`heldSince=${new Date(clock.now()).toISOString()}`));
    assert.match(warned[0]!, new RegExp(`resumesAt=${new Date(clock.now() + DAY).toISOString()}`));
    assert.ok(await second.store.getMessage(kept), "the history is kept");
  } finally {
    await second.e.close();
  }
});

Deno.test("a restart during the hold after a long stop keeps the hold's end (24 h after it began) instead of starting it over", async () => {
  await using dir = await tempDir({ prefix: "restart-clock-gap-" });
  const { path, clock, message } = await storedAndStopped(dir.path);

  clock.advance(3 * DAY); // a real 3-day stop
  const heldAt = clock.now();
  const second = await engineOn(path, clock);
  try {
    await waitFor("the first sweep tick", () => ticked(second.lines));
    assert.ok(await second.store.getMessage(message), "held at start");
    assert.match(
      second.lines.find((l) => l.includes(" retention.held-after-downtime "))!,
      /downFor="3 days"/,
    );
    await tickDone(clock);
    clock.advance(5 * HOUR);
    await waitFor("the tick 5 h on, held", () => count(second.lines, "retention.held") === 2);
  } finally {
    await second.e.close();
  }

  clock.advance(10 * MINUTE); // a restart (a deploy)
  const third = await engineOn(path, clock);
  try {
    await waitFor("the first sweep tick", () => ticked(third.lines));
    assert.ok(await third.store.getMessage(message), "still held after the restart");
    const warned = third.lines.filter((l) => l.includes(" retention.held-after-downtime "));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, new RegExp(`heldSince=${new Date(heldAt).toISOString()}`));
    assert.match(warned[0]!, new RegExp(`resumesAt=${new Date(heldAt + DAY).toISOString()}`));
    assert.match(warned[0]!, /still held when the engine stopped/);
    await tickDone(clock);
    clock.advance(DAY - 5 * HOUR - 10 * MINUTE); // 24 h after the hold began, 18 h 50 min on
    await waitFor("the sweep", () => count(third.lines, "engine.housekeeping") === 1);
    assert.equal(await third.store.getMessage(message), null, "swept at the first hold's end");
    assert.equal(count(third.lines, "retention.resumed"), 1);
  } finally {
    await third.e.close();
  }
});
