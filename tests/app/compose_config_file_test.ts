/**
 * compose() with a config file that cannot be read any more (moved, or replaced by a folder,
 * after it was parsed): a ComposeError naming the step and the file, with what the steps before
 * opened closed (the MLLP listener) and nothing after started (no KV file).
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../actors/config/mod.ts";
import { memoryLogger } from "../../actors/runtime/log.ts";
import { compose, ComposeError } from "../../app/compose.ts";
import { tempDir } from "../helpers/temp.ts";

function config(kvPath: string, mllpPort: number): Config {
  const result = parseConfig({
    node: { id: "test" },
    kv: { path: kvPath },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    listeners: [{ port: mllpPort, hostname: "127.0.0.2" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: mllpPort, allowedIps: ["127.0.0.1"] },
    }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.config;
}

for (
  const [name, unreadable, reason] of [
    ["removed", async (file: string) => await Deno.remove(file), "cannot read FILE: no such file"],
    ["replaced by a folder", async (file: string) => {
      await Deno.remove(file);
      await Deno.mkdir(file);
    }, "FILE is not a regular file (a directory)"],
  ] as const
) {
  Deno.test(`compose fails naming the config file when it was ${name} after parsing, and closes what it opened`, async () => {
    await using dir = await tempDir({ prefix: "compose-config-file-" });
    // Holding 127.0.0.1:P keeps P from every other test (port 0 binds), while compose binds
    // 127.0.0.2:P: binding it again afterwards proves compose closed it.
    const hold = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (hold.addr as Deno.NetAddr).port;
    const file = `${dir.path}/engine.json`;
    await Deno.writeTextFile(file, "{}");
    await unreadable(file);
    try {
      const error = await compose(config(`${dir.path}/engine.kv`, port), {
        log: memoryLogger(),
        configFile: file,
      }).then(async (composed) => void await composed.close(), (e) => e);
      assert.ok(error instanceof ComposeError, `compose did not fail: ${error}`);
      assert.equal(
        error.message,
        `cannot hash the config file: ${reason.replace("FILE", file)}`,
      );
      // The listener bound before this step was closed; the engine (after it) never started.
      Deno.listen({ hostname: "127.0.0.2", port }).close();
      await assert.rejects(Deno.stat(`${dir.path}/engine.kv`), Deno.errors.NotFound);
    } finally {
      hold.close();
    }
  });
}
