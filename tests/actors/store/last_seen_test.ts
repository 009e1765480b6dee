/**
 * The last-seen row: which starts hold the retention sweep (a gap over an hour either way, a hold
 * still on at the last stop, a clock corrected back), and, on a real KV file shared by two nodes,
 * that a held node leaves a row another node keeps with its sweep on as it is.
 */

import assert from "node:assert/strict";
import { downtimeAtStart, readLastSeen, writeLastSeen } from "../../../actors/store/last_seen.ts";
import { Store } from "../../../actors/store/store.ts";
import { tempDir } from "../../helpers/temp.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T = Date.UTC(2026, 0, 1);

Deno.test("downtimeAtStart: no row, or a clock within an hour of it, holds nothing; over an hour either way holds from now", () => {
  assert.equal(downtimeAtStart(undefined, T), undefined);
  assert.equal(downtimeAtStart({ at: T, node: "n1" }, T + 10 * MINUTE), undefined);
  assert.equal(downtimeAtStart({ at: T, node: "n1" }, T + HOUR), undefined);
  assert.deepEqual(downtimeAtStart({ at: T, node: "n1" }, T + 31 * DAY), {
    lastSeen: T,
    node: "n1",
    startedAt: T + 31 * DAY,
    gapMs: 31 * DAY,
    since: T + 31 * DAY,
    continued: false,
  });
  assert.equal(downtimeAtStart({ at: T, node: "n1" }, T - 2 * HOUR)?.gapMs, -2 * HOUR);
});

Deno.test("downtimeAtStart: a hold on at the last stop goes on until 24 h after it began, unless the clock was corrected back", () => {
  const since = T + 31 * DAY; // held from a start 31 days after the last time seen unheld
  const row = { at: T, node: "n1", held: { since, seen: since + 5 * HOUR } };
  const restart = since + 5 * HOUR + 10 * MINUTE;
  const goesOn = downtimeAtStart(row, restart);
  assert.equal(goesOn?.continued, true);
  assert.equal(goesOn?.since, since, "the hold's end stays 24 h after it began");
  const late = { ...row, held: { since, seen: since + DAY - 10 * MINUTE } };
  assert.equal(downtimeAtStart(late, since + DAY + 10 * MINUTE), undefined, "past its end");
  // Down over an hour since the held run was last seen: a new hold, as after any long stop.
  assert.equal(downtimeAtStart(row, since + DAY)?.since, since + DAY);
  // The operator corrected the clock: back within an hour of the last time seen unheld.
  assert.equal(downtimeAtStart(row, T + 20 * MINUTE), undefined);
  // Moved again, elsewhere: a new hold from now.
  const again = downtimeAtStart(row, since + 10 * DAY);
  assert.equal(again?.continued, false);
  assert.equal(again?.since, since + 10 * DAY);
});

Deno.test("writeLastSeen: a held node notes its hold over its own row, not over the row another node keeps with its sweep on", async () => {
  await using dir = await tempDir({ prefix: "last-seen-" });
  const a = await Store.open({ path: `${dir.path}/kv`, node: "a" });
  const b = await Store.open({ path: `${dir.path}/kv`, node: "b" });
  try {
    await writeLastSeen(a, { at: T });
    await writeLastSeen(b, { at: T - DAY, held: { since: T - DAY, seen: T + 31 * DAY } });
    assert.deepEqual(await readLastSeen(b), { at: T, node: "a" }, "a's row stays");

    await writeLastSeen(b, { at: T + MINUTE });
    await writeLastSeen(b, { at: T + MINUTE, held: { since: T + DAY, seen: T + DAY } });
    assert.deepEqual(await readLastSeen(a), {
      at: T + MINUTE,
      node: "b",
      held: { since: T + DAY, seen: T + DAY },
    });
    await writeLastSeen(a, { at: T + 2 * MINUTE });
    assert.deepEqual(await readLastSeen(b), { at: T + 2 * MINUTE, node: "a" }, "unheld: written");
  } finally {
    a.close();
    b.close();
  }
});
