/**
 * SIGHUP on `main.ts serve` reloads the config file (as `POST /admin/config/reload` does): a real
 * child process, a new MLLP port added to its file, the signal, then a message on that port.
 */

import assert from "node:assert/strict";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { spawnEngine } from "../helpers/engine_process.ts";
import { tempDir } from "../helpers/temp.ts";

function configFor(dir: string, ports: number[]): string {
  return JSON.stringify({
    node: { id: "hup" },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    listeners: ports.map((port) => ({ port, hostname: "127.0.0.1" })),
    integrations: ports.map((port, i) => ({
      id: `feed${i}`,
      environment: "dev",
      mllp: { port, allowedIps: ["127.0.0.1"] },
    })),
  });
}

Deno.test("SIGHUP makes a child-process engine reload its config file", async () => {
  await using dir = await tempDir({ prefix: "reload-sighup-" });
  // Chosen ahead, not 0: the child binds them from its config file.
  const first = freePort();
  const second = freePort();
  const file = `${dir.path}/engine.json`;
  await Deno.writeTextFile(file, configFor(dir.path, [first]));
  const { child, status, drained, output, exited } = spawnEngine({
    flags: ["-A"],
    args: ["serve", "--config", file],
  });
  const seen = (event: string) => output().split("\n").some((l) => l.split(" ").includes(event));
  try {
    await waitFor("the engine started", () => {
      if (exited()) throw new Error(`the engine exited:\n${output()}`);
      return seen("engine.started") && seen("http.listening");
    }, 60_000);
    await Deno.writeTextFile(file, configFor(dir.path, [first, second]));
    child.kill("SIGHUP");
    await waitFor("the reload", () => {
      if (exited()) throw new Error(`the engine exited:\n${output()}`);
      return seen("config.reloaded");
    }, 30_000);
    const sender = await RawMllpSender.connect(second);
    try {
      assert.equal(summarizeAck(await sender.request(adt("H1"))).code, "AA");
    } finally {
      await sender.close();
    }
  } finally {
    if (!exited()) child.kill("SIGTERM");
    await status;
    await drained;
  }
});
