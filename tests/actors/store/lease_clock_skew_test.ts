/**
 * Leases between nodes whose wall clocks differ: two `Leases` in one process over one real KV
 * file, each with its own injected wall clock, and an elapsed (monotonic) clock the test moves. A
 * lease is takeable once its renewal has not changed for a lifetime of the reader's elapsed time,
 * whatever the owner's clock said; heartbeats and renewals carry no KV expiry (which a process
 * whose clock steps forward would apply to everyone's keys).
 */

import assert from "node:assert/strict";
import { Cluster } from "../../../actors/runtime/cluster.ts";
import { Leases } from "../../../actors/store/leases.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { tempDir } from "../../helpers/temp.ts";

/** The part of `node:sqlite` used here (Deno's bundled Node types do not declare the module). */
interface SqliteModule {
  DatabaseSync: new (path: string, options: { readOnly: boolean }) => {
    prepare(sql: string): { all(): unknown[] };
    close(): void;
  };
}

const TTL = 9_000;
const HOUR = 3_600_000;
const ACTOR = "mllp-out:ehr";

async function withTwo(
  skews: { a: number; b: number },
  fn: (
    a: Leases,
    b: Leases,
    clock: { wall: number; elapsed: number },
    kv: Deno.Kv,
    path: string,
  ) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir({ prefix: "lease-skew-" });
  const path = `${dir.path}/engine.kv`;
  const kv = await Deno.openKv(path);
  const clock = { wall: Date.now(), elapsed: 0 };
  const make = (node: string, skew: number) =>
    new Leases(kv, node, {
      ttlMs: TTL,
      now: () => clock.wall + skew,
      elapsed: () => clock.elapsed,
    });
  try {
    await fn(make("node-a", skews.a), make("node-b", skews.b), clock, kv, path);
  } finally {
    kv.close();
  }
}

for (
  const [name, skews] of [
    ["an hour ahead", { a: HOUR, b: 0 }],
    ["a month ahead", { a: 31 * 24 * HOUR, b: 0 }],
    ["right, the taker's an hour behind", { a: 0, b: -HOUR }],
  ] as const
) {
  Deno.test(`a dead owner's lease (its clock ${name}) is takeable a lifetime after its last renewal`, async () => {
    await withTwo(skews, async (a, b, clock) => {
      assert.equal(await a.acquire(ACTOR), true);
      assert.equal(await b.acquire(ACTOR), false, "held: b waits");
      clock.elapsed += 3_000;
      clock.wall += 3_000;
      assert.deepEqual(await a.renew([ACTOR]), []);
      // a dies now. b reads it again and again: the renewal no longer changes.
      assert.equal(await b.acquire(ACTOR), false, "b sees the last renewal");
      clock.elapsed += TTL - 1;
      clock.wall += TTL - 1;
      assert.equal(await b.acquire(ACTOR), false, "not a lifetime yet");
      assert.equal(await b.owner(ACTOR), "node-a");
      clock.elapsed += 1;
      clock.wall += 1;
      assert.equal(await b.owner(ACTOR), undefined, "expired as b judges it");
      assert.equal(await b.acquire(ACTOR), true, "b takes over");
      assert.equal(a.valid(ACTOR), false, "a (were it awake) stopped a third of a lifetime ago");
    });
  });
}

for (
  const [name, skews] of [
    ["an hour behind", { a: -HOUR, b: 0 }],
    ["right, the other's an hour ahead", { a: 0, b: HOUR }],
  ] as const
) {
  Deno.test(`a live owner's lease (its clock ${name}) is never taken while it renews`, async () => {
    await withTwo(skews, async (a, b, clock) => {
      assert.equal(await a.acquire(ACTOR), true);
      for (let i = 0; i < 12; i++) {
        clock.elapsed += a.renewEveryMs;
        clock.wall += a.renewEveryMs;
        assert.deepEqual(await a.renew([ACTOR]), [], `renewal ${i}`);
        assert.equal(await b.acquire(ACTOR), false, `taken from a live owner at renewal ${i}`);
        assert.equal(a.valid(ACTOR), true);
      }
      assert.equal(await b.owner(ACTOR), "node-a");
    });
  });
}

Deno.test("observeAll notes renewals before a takeover: a dead node's lease is takeable a lifetime after its last renewal, not after the taker's first read", async () => {
  await withTwo({ a: 0, b: 0 }, async (a, b, clock) => {
    assert.equal(await a.acquire(ACTOR), true);
    await b.observeAll();
    clock.elapsed += 3_000;
    assert.deepEqual(await a.renew([ACTOR]), []);
    await b.observeAll(); // b's membership look, a second later in the engine
    // a dies. A lifetime later, b tries the lease for the first time (a was just seen dead).
    clock.elapsed += TTL;
    assert.equal(await b.acquire(ACTOR), true);
  });
});

Deno.test("observeAll deletes a lease nobody renewed for six lifetimes (at least a minute), never a renewed one", async () => {
  await withTwo({ a: 0, b: 0 }, async (a, b, clock, kv) => {
    assert.equal(await a.acquire(ACTOR), true);
    assert.equal(await a.acquire("alerts"), true);
    for (let i = 0; i < 20; i++) {
      await b.observeAll();
      clock.elapsed += 3_000;
      // a keeps "alerts" renewed, and forgets the other (a dead node's lease nobody took).
      assert.deepEqual(await a.renew(["alerts"]), []);
    }
    await b.observeAll();
    assert.equal((await kv.get(["lease", ACTOR])).value, null);
    assert.equal((await kv.get(["lease", ACTOR, "renew"])).value, null);
    assert.notEqual((await kv.get(["lease", "alerts"])).value, null);
    assert.equal(await b.owner("alerts"), "node-a");
  });
});

Deno.test("heartbeats and lease renewals carry no KV expiry (a node whose clock steps forward would delete them)", async () => {
  await withTwo({ a: 0, b: 0 }, async (a, _b, clock, kv, path) => {
    const cluster = new Cluster({
      registry: new NodeRegistry(kv),
      node: "node-a",
      leaseMs: TTL,
      now: () => clock.wall,
      monotonic: () => clock.elapsed,
      load: () => ({ actors: 1, load: 0 }),
    });
    await cluster.refresh();
    assert.equal(await a.acquire(ACTOR), true);
    clock.elapsed += 3_000;
    assert.deepEqual(await a.renew([ACTOR]), []);
    // The KV file's own table: each key's expiry (-1: none), as KV's cleanup reads it.
    const specifier = "node:sqlite";
    const { DatabaseSync } = (await import(specifier)) as SqliteModule;
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = db.prepare("SELECT k, expiration_ms FROM kv").all() as {
        k: Uint8Array;
        expiration_ms: number;
      }[];
      // Key parts in the file: a type byte (2: string), the UTF-8, a 0 byte. Shown with slashes.
      const text = (k: Uint8Array) =>
        [...k].map((b) => b <= 3 ? "/" : String.fromCharCode(b)).join("");
      const ours = rows.filter((r) => /^\/(nodes|lease)\//.test(text(r.k)));
      assert.equal(ours.length, 3, rows.map((r) => text(r.k)).join(", "));
      assert.deepEqual(
        ours.filter((r) => r.expiration_ms >= 0).map((r) => text(r.k)),
        [],
        "keys with a KV expiry",
      );
    } finally {
      db.close();
    }
  });
});
