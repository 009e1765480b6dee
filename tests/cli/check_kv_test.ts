/**
 * `check FILE --kv` runs SQLite's `PRAGMA quick_check` over the config's KV file in the foreground
 * (the check `serve` runs in the background at start) and prints what it found: a damaged file
 * exits 1 naming the file and SQLite's problems; a sound one prints ok, also while an engine's
 * store has the file open and goes on committing. Without `--kv`, `check` does not open the file.
 * @module
 */

import assert from "node:assert/strict";
import { Store } from "../../actors/store/mod.ts";
import { damageMiddleLeaf, writeHistory } from "../helpers/damaged_kv.ts";
import { tempDir } from "../helpers/temp.ts";
import { runMain } from "../helpers/run_main.ts";

async function configFile(dir: string, kvPath: string): Promise<string> {
  const file = `${dir}/engine.json`;
  await Deno.writeTextFile(file, JSON.stringify({ node: { id: "t" }, kv: { path: kvPath } }));
  return file;
}

Deno.test("check --kv finds a KV file damaged in a page of old history: exit 1, the file and SQLite's problems printed; check alone does not open it", async () => {
  await using dir = await tempDir({ prefix: "check-kv-damaged-" });
  const kv = `${dir.path}/engine.kv`;
  await writeHistory(kv, 1500);
  const page = await damageMiddleLeaf(kv);
  const config = await configFile(dir.path, kv);

  const r = await runMain(["check", config, "--kv"]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`kv integrity: DAMAGED: ${kv} \\(PRAGMA quick_check`));
  assert.match(r.stderr, new RegExp(`page ${page}\\b`));
  assert.match(r.stderr, /restore the KV file from a backup/);
  assert.match(r.stdout, /valid \(0 integrations/);

  const plain = await runMain(["check", config]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stdout + plain.stderr, /kv integrity/);
});

Deno.test("check --kv on a sound KV file an engine's store has open prints ok, and the store's commits go on during and after it", async () => {
  await using dir = await tempDir({ prefix: "check-kv-sound-" });
  const kv = `${dir.path}/engine.kv`;
  await writeHistory(kv, 1500);
  const config = await configFile(dir.path, kv);
  const store = await Store.open({ path: kv, node: "t" });
  try {
    let running = true;
    const checked = runMain(["check", "--kv", config]).finally(() => {
      running = false;
    });
    // Commits while the check runs (bounded): none fails.
    let commits = 0;
    for (let i = 0; i < 10_000 && running; i++) {
      const r = await store.kv.set(["during-check", i], new Uint8Array(512));
      assert.ok(r.ok);
      commits++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const r = await checked;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`kv integrity: ok \\(${kv}, PRAGMA quick_check, \\d+ ms\\)`));
    assert.ok(commits > 0);
    assert.ok((await store.kv.set(["after-check"], 1)).ok);
    assert.equal(store.health.writable, true);
  } finally {
    store.close();
  }
});

Deno.test("check --kv has nothing to check for :memory: or a file not created yet", async () => {
  await using dir = await tempDir({ prefix: "check-kv-none-" });
  const memory = await runMain(["check", await configFile(dir.path, ":memory:"), "--kv"]);
  assert.equal(memory.code, 0, memory.stderr);
  assert.match(memory.stdout, /kv integrity: nothing to check \(:memory: is not a local file\)/);
  const kv = `${dir.path}/not-yet.kv`;
  const none = await runMain(["check", await configFile(dir.path, kv), "--kv"]);
  assert.equal(none.code, 0, none.stderr);
  assert.ok(none.stdout.includes(`kv integrity: no file yet at ${kv} (the engine creates it)`));
});
