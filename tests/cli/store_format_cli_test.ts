/**
 * `main.ts serve` on a KV a newer engine wrote (its store-format marker above this engine's
 * `STORE_FORMAT`): the start is refused with one line on stderr saying which release wrote it and
 * what to do, exit code 1, no stack trace, and the KV is left as it was.
 * @module
 */

import assert from "node:assert/strict";
import { keys } from "../../actors/store/mod.ts";
import { ENGINE_VERSION } from "../../actors/runtime/version.ts";
import { tempDir } from "../helpers/temp.ts";
import { runMain } from "../helpers/run_main.ts";

/** The refusal of a KV at `path` that engine 0.9.0 wrote in store format 2. */
function refusal(path: string): string {
  return `the KV at ${path} was written by engine 0.9.0 (store format 2); this engine ` +
    `(${ENGINE_VERSION}) reads store format ≤ 1; start that release or newer, or restore a ` +
    "backup taken before the upgrade";
}

/** A KV file at `path` written by engine 0.9.0 in store format 2, and a config opening it. */
async function newerKv(dir: string): Promise<{ path: string; config: string }> {
  const path = `${dir}/engine.kv`;
  const kv = await Deno.openKv(path);
  await kv.set(keys.storeFormat, { format: 2, release: "0.9.0", at: 1_700_000_000_000 });
  await kv.set(keys.message("m1"), { id: "m1" });
  kv.close();
  const config = `${dir}/engine.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      node: { id: "rollback" },
      kv: { path },
      http: { port: 0, hostname: "127.0.0.1", development: true },
    }),
  );
  return { path, config };
}

/** The marker row and a message row, as a plain KV handle reads them. */
async function rows(path: string): Promise<Deno.KvEntryMaybe<unknown>[]> {
  const kv = await Deno.openKv(path);
  try {
    return await kv.getMany([keys.storeFormat, keys.message("m1")]);
  } finally {
    kv.close();
  }
}

Deno.test("serve on a KV written by a newer engine (store format 2) exits 1 with one line saying which release wrote it and what to do", async () => {
  await using dir = await tempDir({ prefix: "cli-store-format-" });
  const { path, config } = await newerKv(dir.path);
  const before = await rows(path);
  const { code, stdout, stderr } = await runMain(["serve", "--config", config]);
  assert.equal(code, 1, stdout + stderr);
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, stderr);
  assert.equal(lines[0], `cannot start the engine: ${refusal(path)}`);
  assert.doesNotMatch(stdout + stderr, /^\s+at /m, "no stack trace");

  assert.deepEqual(await rows(path), before, "the KV is left as it was");
});

Deno.test("check --kv on a KV a newer engine wrote exits 1 with the refusal serve would give; on this engine's KV it prints the format and who wrote it", async () => {
  await using dir = await tempDir({ prefix: "cli-store-format-check-" });
  const { path, config } = await newerKv(dir.path);
  const before = await rows(path);
  const refused = await runMain(["check", config, "--kv"]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.equal(refused.stderr.trim(), `store format: ${refusal(path)}`);
  assert.deepEqual(await rows(path), before, "check wrote nothing");

  const own = `${dir.path}/own.kv`;
  const kv = await Deno.openKv(own);
  await kv.set(keys.storeFormat, { format: 1, release: "0.2.0", at: 0 });
  kv.close();
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      node: { id: "t" },
      kv: { path: own },
      http: { port: 0, hostname: "127.0.0.1", development: true },
    }),
  );
  const ok = await runMain(["check", config, "--kv"]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(
    ok.stdout,
    new RegExp(
      `store format: 1 \\(marker written by engine 0\\.2\\.0 at 1970-01-01T00:00:00\\.000Z\\); ` +
        `this engine \\(${ENGINE_VERSION.replaceAll(".", "\\.")}\\) reads store format ≤ 1`,
    ),
  );
});
