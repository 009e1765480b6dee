import assert from "node:assert/strict";
import { Leases } from "../../../actors/store/leases.ts";
import { Store } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("two processes accepting into one KV file both succeed, retrying 'database is locked'", async () => {
  await using dir = await tempDir({ prefix: "shared-file-" });
  const path = `${dir.path}/engine.kv`;
  const worker = new URL("./fixtures/accept_worker.ts", import.meta.url).pathname;
  const run = (node: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", worker, path, node, "300"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const [a, b] = await Promise.all([run("a"), run("b")]);
  assert.equal(a.code, 0, new TextDecoder().decode(a.stderr));
  assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
  const store = await Store.open({ path, node: "check" });
  try {
    assert.equal(await store.depth("shared"), 600);
    const heads = await store.peek("shared", 1000);
    assert.equal(heads.length, 600);
    // Each process's own messages keep their order in the shared queue.
    for (const node of ["a", "b"]) {
      const mine = [];
      for (const h of heads) {
        const id = (await store.getMessage(h.entry.messageId))?.controlId ?? "";
        if (id.startsWith(`${node}-`)) mine.push(Number(id.slice(2)));
      }
      assert.deepEqual(mine, [...mine].sort((x, y) => x - y));
      assert.equal(mine.length, 300);
    }
  } finally {
    store.close();
  }
});

Deno.test("an actor lease is held by one node until it expires; the same node takes it back at once", async () => {
  const kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  // Each node judges another's lease expired by its own elapsed time since the renewal changed.
  let elapsed = 0;
  const clocks = { now: () => now, elapsed: () => elapsed };
  const a = new Leases(kv, "node-a", { ttlMs: 30_000, ...clocks });
  const b = new Leases(kv, "node-b", { ttlMs: 30_000, ...clocks });
  const aAgain = new Leases(kv, "node-a", { ttlMs: 30_000, ...clocks });
  try {
    assert.equal(await a.acquire("mllp-out:h:1"), true);
    assert.equal(await b.acquire("mllp-out:h:1"), false);
    assert.equal(
      await aAgain.acquire("mllp-out:h:1"),
      true,
      "a restarted node-a resumes its lease",
    );
    assert.equal(await b.acquire("mllp-out:h:1"), false, "node-b sees the new take");
    now += 29_000;
    elapsed += 29_000;
    assert.equal(await b.acquire("mllp-out:h:1"), false);
    now += 2_000;
    elapsed += 2_000;
    assert.equal(await b.acquire("mllp-out:h:1"), true, "expired: node-b takes over");
    assert.equal(await b.owner("mllp-out:h:1"), "node-b");
    assert.equal(await a.acquire("mllp-out:h:1"), false);
    await b.release("mllp-out:h:1");
    assert.equal(await a.acquire("mllp-out:h:1"), true);
  } finally {
    kv.close();
  }
});
