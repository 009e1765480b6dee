import assert from "node:assert/strict";
import { Store } from "../../../actors/store/store.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("translation set store: a table larger than one KV value reads back whole; concurrent imports get distinct versions; every version stays readable", async () => {
  await using dir = await tempDir({ prefix: "translation-sets-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "n1" });
  try {
    const sets = store.translationSets;
    // ~30,000 entries of ~40 bytes: about 1.2 MB, 20 chunks, written in two commits.
    const big: Record<string, string> = {};
    for (let i = 0; i < 30_000; i++) big[`CODE-${i}`] = `replacement é ${i}`;
    const v1 = await sets.put("big", big, { by: "ops", at: 1 });
    assert.equal(v1.version, 1);
    assert.ok(v1.chunks > 10, `chunks: ${v1.chunks}`);
    const back = await sets.get("big");
    assert.deepEqual(back?.table, big);
    assert.equal(back?.sha256, v1.sha256);

    const [a, b, c] = await Promise.all([
      sets.put("small", { "1": "F" }, { by: "a", at: 2 }),
      sets.put("small", { "1": "M" }, { by: "b", at: 3, onMissing: "fail" }),
      sets.put("small", { "1": "U" }, { by: "c", at: 4 }),
    ]);
    assert.deepEqual([a!.version, b!.version, c!.version].sort(), [1, 2, 3]);
    const versions = await sets.versions("small");
    assert.deepEqual(versions.map((v) => v.version), [1, 2, 3]);
    const latest = await sets.get("small");
    assert.equal(latest?.version, 3);
    const second = await sets.get("small", b!.version);
    assert.deepEqual(second?.table, { "1": "M" });
    assert.equal(second?.onMissing, "fail");
    assert.deepEqual((await sets.heads()).map((h) => [h.name, h.version]).sort(), [
      ["big", 1],
      ["small", 3],
    ]);
    assert.equal(await sets.get("small", 9), undefined);
    assert.equal(await sets.get("none"), undefined);
  } finally {
    store.close();
  }
});
