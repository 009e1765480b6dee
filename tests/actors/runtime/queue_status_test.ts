/**
 * The oldest queued message's age after a wall-clock step: measured from when this process first
 * saw the entry, on the monotonic clock, it neither reads 0 for the length of a step back nor
 * jumps by a step forward. Real KV file; the clocks are passed in.
 */

import assert from "node:assert/strict";
import { queueStatus } from "../../../actors/runtime/queue_status.ts";
import { Store } from "../../../actors/store/store.ts";
import { tempDir } from "../../helpers/temp.ts";

const HOUR = 3_600_000;

Deno.test("queue status: the oldest message's age goes on at the real rate across wall-clock steps either way", async () => {
  await using dir = await tempDir({ prefix: "queue-age-" });
  let wall = Date.UTC(2026, 5, 1);
  let mono = 50_000;
  const store = await Store.open({ path: `${dir.path}/kv`, node: "n1", now: () => wall });
  try {
    const stored = await store.accept({
      queue: "sftp:lab",
      origin: { kind: "integration", id: "lab" },
      payload: new TextEncoder().encode("queued"),
      contentType: "text/plain",
      log: { type: "RECEIVE", integrationId: "lab" },
    });
    assert.equal(stored.status, "stored");
    const age = async () =>
      (await queueStatus({ id: "sftp:lab", kind: "sftp", state: "idle", store, now: wall, mono }))
        .status.oldestAgeMs;
    wall += 10_000;
    mono += 10_000;
    assert.equal(await age(), 10_000);
    wall -= HOUR;
    mono += 5_000;
    assert.equal(await age(), 15_000, "a step back does not freeze the age at 0");
    wall += 3 * HOUR;
    mono += 5_000;
    assert.equal(await age(), 20_000, "a step forward does not add the step");
    mono += 1.7344;
    assert.equal(await age(), 20_002, "whole milliseconds (the monotonic clock has fractions)");
  } finally {
    store.close();
  }
});
