import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { PendingWrites } from "../../../actors/runtime/pending_writes.ts";
import { StoreUnavailableError } from "../../../actors/store/health.ts";
import { GroupCommitter, keys, Store } from "../../../actors/store/mod.ts";
import { DISK_FULL, openFaultyKv } from "./fixtures/faulty_kv.ts";

const enc = new TextEncoder();

function accept(store: Store, id: string, size = 100) {
  return store.accept({
    queue: "mllp-in:1:127.0.0.1",
    origin: { kind: "integration", id: "feed" },
    payload: enc.encode(`MSH|^~\\&|${id}|`.padEnd(size, "x")),
    contentType: "application/hl7-v2",
    controlId: id,
    dedupe: { scope: "feed", key: id, ack: `ACK ${id}`, windowMs: 60_000 },
    log: { type: "RECEIVE", integrationId: "feed" },
  });
}

async function faultyStore() {
  const faulty = await openFaultyKv();
  const clock = new ManualClock();
  const store = new Store(faulty.kv, { node: "t", now: () => clock.now() });
  const log = memoryLogger();
  store.health.configure({ log, warnIntervalMs: 30_000 });
  return { faulty, clock, store, log };
}

Deno.test("a full disk refuses writes with StoreUnavailableError, warns once per interval, and a probe finds space again", async () => {
  const { faulty, clock, store, log } = await faultyStore();
  const warnings = () => log.lines.filter((l) => l.includes("store.not-writable"));
  try {
    assert.equal((await accept(store, "M0")).status, "stored");
    faulty.full = true;
    for (let i = 1; i <= 5; i++) {
      await assert.rejects(accept(store, `M${i}`), (e) => {
        assert.ok(e instanceof StoreUnavailableError);
        assert.match(e.message, /storage is not writable: database or disk is full/);
        return true;
      });
    }
    // A large message fails on its chunks, before the group commit: the same answer.
    await assert.rejects(accept(store, "BIG", 200_000), StoreUnavailableError);
    assert.equal(store.health.writable, false);
    assert.equal(store.health.state.reason, DISK_FULL);
    assert.equal(store.health.state.failures, 6);
    assert.equal(warnings().length, 1, log.lines.join("\n"));

    // Still full a probe interval later: the probe fails too, still one warning per interval.
    clock.advance(1_000);
    assert.equal((await store.health.check()).writable, false);
    assert.equal(warnings().length, 1);
    clock.advance(30_000);
    await assert.rejects(accept(store, "M6"), StoreUnavailableError);
    assert.equal(warnings().length, 2);

    // Space again: a probe (no traffic needed) makes the store writable at once.
    faulty.full = false;
    clock.advance(1_000);
    assert.equal((await store.health.check()).writable, true);
    assert.equal(log.lines.filter((l) => l.includes("store.writable-again")).length, 1);
    for (const id of ["M1", "M6", "BIG"]) {
      assert.equal((await accept(store, id)).status, "stored", `${id} was not stored before`);
    }
    assert.equal(await store.depth("mllp-in:1:127.0.0.1"), 4);
  } finally {
    store.close();
  }
});

Deno.test("a disk that flaps (full, a commit fits, full again) warns once per interval, not once per outage", async () => {
  const { faulty, clock, store, log } = await faultyStore();
  const lines = (event: string) => log.lines.filter((l) => l.includes(` ${event} `));
  try {
    for (let i = 0; i < 5; i++) {
      faulty.full = true;
      await assert.rejects(accept(store, `F${i}`), StoreUnavailableError);
      faulty.full = false;
      assert.equal((await accept(store, `S${i}`)).status, "stored");
      clock.advance(1_000);
    }
    // The first outage is logged, start and end; the four after it, within the interval, are not.
    assert.equal(lines("store.not-writable").length, 1, log.lines.join("\n"));
    assert.equal(lines("store.writable-again").length, 1, log.lines.join("\n"));
    // Past the interval the next outage is logged, with the count of those that were not.
    clock.advance(30_000);
    faulty.full = true;
    await assert.rejects(accept(store, "F9"), StoreUnavailableError);
    const warnings = lines("store.not-writable");
    assert.equal(warnings.length, 2);
    assert.match(warnings[1]!, /briefOutagesNotLogged=4/);
    faulty.full = false;
    assert.equal((await accept(store, "S9")).status, "stored");
    assert.equal(lines("store.writable-again").length, 2);
  } finally {
    store.close();
  }
});

Deno.test("a probe runs at most once per interval however often health is asked", async () => {
  const { faulty, clock, store } = await faultyStore();
  try {
    faulty.full = true;
    await assert.rejects(accept(store, "M1"), StoreUnavailableError);
    const before = faulty.refused;
    await Promise.all(Array.from({ length: 20 }, () => store.health.check()));
    assert.equal(faulty.refused - before, 1, "one probe for 20 concurrent checks");
    await store.health.check();
    assert.equal(faulty.refused - before, 1, "no probe again within the interval");
    clock.advance(1_000);
    await store.health.check();
    assert.equal(faulty.refused - before, 2);
  } finally {
    store.close();
  }
});

Deno.test("one write over a KV limit fails alone, not the batch it shared, and is no storage fault", async () => {
  const kv = await Deno.openKv(":memory:");
  const outcomes: string[] = [];
  const committer = new GroupCommitter(kv, {}, {
    succeeded: () => outcomes.push("ok"),
    failed: () => outcomes.push("fault"),
  });
  try {
    const [big, small] = await Promise.allSettled([
      committer.commit({ sets: [{ key: ["big"], value: new Uint8Array(70_000) }], bytes: 70_000 }),
      committer.commit({ sets: [{ key: ["small"], value: 1 }], bytes: 10 }),
    ]);
    assert.equal(big.status, "rejected");
    assert.ok(!((big as PromiseRejectedResult).reason instanceof StoreUnavailableError));
    assert.equal(small.status, "fulfilled");
    assert.equal((await kv.get(["small"])).value, 1);
    assert.ok(!outcomes.includes("fault"), outcomes.join());
  } finally {
    kv.close();
  }
});

Deno.test("a background commit that fails is reported by settle(), never as an unhandled rejection", async () => {
  const pending = new PendingWrites({ backlog: () => 0 });
  await pending.add(Promise.reject(new StoreUnavailableError(new TypeError(DISK_FULL))));
  // A macrotask: an unobserved rejection would be reported (and fail this test) by now.
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(pending.settle(), StoreUnavailableError);
  assert.equal(pending.size, 0);
});

Deno.test("the store's keys stay under KV's 2 KiB limit whatever a peer sends", async () => {
  const kv = await Deno.openKv(":memory:");
  const store = new Store(kv, { node: "t" });
  try {
    const huge = "X".repeat(100_000);
    const key = keys.dedupe("feed", huge);
    assert.ok(JSON.stringify(key).length < 2048);
    assert.notDeepEqual(
      key,
      keys.dedupe("feed", huge.slice(1) + "Y"),
      "distinct ids stay distinct",
    );
    assert.deepEqual(keys.dedupe("feed", "short"), ["dedupe", "feed", "short"]);
    // An id from an admin URL: looked up, not found, no `Key too large for read`.
    assert.equal(await store.getLog(huge), null);
    assert.equal(await store.getMessage(huge), null);
  } finally {
    store.close();
  }
});
