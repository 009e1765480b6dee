/**
 * compose() binds what the config asks for: port 0 becomes a port the system chose, which the
 * engine is given (an MLLP integration's identity is its port) and `servers` reports; a step that
 * fails closes what the steps before it opened.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../actors/config/mod.ts";
import { memoryLogger } from "../../actors/runtime/log.ts";
import { compose, ComposeError } from "../../app/compose.ts";
import { startEngine } from "../helpers/engine.ts";
import { adt } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { tempDir } from "../helpers/temp.ts";

function config(kvPath: string, mllpPort: number, extra: Record<string, unknown> = {}): Config {
  const result = parseConfig({
    node: { id: "test" },
    kv: { path: kvPath },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    // requireFinalCr false: the listener entry of port 0 applies to the port it is bound to.
    listeners: [{ port: mllpPort, hostname: "127.0.0.1", requireFinalCr: false }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: mllpPort, allowedIps: ["127.0.0.1"] },
    }],
    ...extra,
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.config;
}

Deno.test("compose binds MLLP and HTTP port 0 and gives the engine the bound MLLP port", async () => {
  await using dir = await tempDir({ prefix: "compose-" });
  const e = await startEngine(config(`${dir.path}/engine.kv`, 0), { http: true });
  try {
    const port = e.servers.mllp[0]!.port;
    assert.notEqual(port, 0);
    assert.equal(e.mllpPort, port);
    assert.equal(e.config.integrations[0]!.mllp!.port, port);
    assert.equal(e.config.listeners[0]!.port, port);
    assert.notEqual(e.servers.http!.port, 0);
    assert.equal((await fetch(`${e.base}/healthz`)).status, 200);

    const sender = await RawMllpSender.connect(port);
    try {
      // FS without CR ends the frame only because the listener entry of port 0 applied; AA (not
      // AR, unknown sender) because the engine knows the integration by the bound port.
      await sender.write(new TextEncoder().encode(`\x0b${adt("P0")}\x1c`));
      const [ack] = await sender.frameCount(1);
      assert.equal(summarizeAck(ack!).code, "AA");
    } finally {
      await sender.close();
    }
  } finally {
    await e.close();
  }
});

Deno.test("compose fails naming a taken MLLP port, and opens nothing", async () => {
  await using dir = await tempDir({ prefix: "compose-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const error = await compose(config(`${dir.path}/engine.kv`, port), { log: memoryLogger() })
      .then(
        () => undefined,
        (e) => e,
      );
    assert.ok(error instanceof ComposeError);
    assert.match(error.message, /cannot listen: .*address already in use/);
    // Listeners bind before the store opens: no KV file was created.
    await assert.rejects(Deno.stat(`${dir.path}/engine.kv`), Deno.errors.NotFound);
  } finally {
    taken.close();
  }
});

Deno.test("compose closes the listeners it bound when the engine cannot start", async () => {
  await using dir = await tempDir({ prefix: "compose-" });
  // Holding 127.0.0.1:P keeps P from every other test (port 0 binds), while compose may bind
  // 127.0.0.2:P: binding it again afterwards proves compose closed it.
  const hold = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (hold.addr as Deno.NetAddr).port;
  // A KV path under a regular file cannot be opened.
  await Deno.writeTextFile(`${dir.path}/file`, "");
  const broken = config(`${dir.path}/file/engine.kv`, port);
  broken.listeners[0]!.hostname = "127.0.0.2";
  try {
    const error = await compose(broken, { log: memoryLogger() }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ComposeError);
    assert.match(error.message, /cannot start the engine/);
    Deno.listen({ hostname: "127.0.0.2", port }).close();
  } finally {
    hold.close();
  }
});
