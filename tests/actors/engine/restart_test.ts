/**
 * Nothing acknowledged is lost across a restart: messages queued for a slow receiver, one of them
 * in flight, are all delivered in order by the next engine on the same KV file, whether the first
 * engine stopped cleanly or was killed with SIGKILL (the latter in a child process running
 * `main.ts serve`). The message in flight may be delivered twice; the tests count it.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client, Hl7Server } from "@medplum/hl7";
import { listLogs } from "../../../actors/store/mod.ts";
import { configFrom, startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, freePort, startHl7Server, waitFor } from "../../helpers/net.ts";
import { controlIds, startHoldingReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

const REPO_ROOT = new URL("../../../", import.meta.url).pathname;

/** The config both engines run, as JSON (the child process reads it from a file). */
function configJson(kvPath: string, inPort: number, outPort: number) {
  return {
    node: { id: "restart" },
    kv: { path: kvPath },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      // Long enough that the held message stays in flight until the engine goes away.
      mllp: { host: "127.0.0.1", port: outPort, ackTimeoutSeconds: 30 },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  };
}

const parsed = (json: ReturnType<typeof configJson>) =>
  configFrom(json, (name) => (name === "ADMIN_T" ? "test-token-0123456789" : undefined));

/** Consecutive repeats collapsed: what the receiver got, each message once. */
function collapse(ids: string[]): { order: string[]; duplicates: string[] } {
  const order: string[] = [];
  const duplicates: string[] = [];
  for (const id of ids) {
    if (order[order.length - 1] === id) duplicates.push(id);
    else order.push(id);
  }
  return { order, duplicates };
}

const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);

Deno.test("a stopped engine's queue, one message in flight, is delivered in order by the next engine on the same KV", async () => {
  await using dir = await tempDir({ prefix: "restart-" });
  const { receiver, release } = startHoldingReceiver();
  // The next engine binds the same port: one picked where no test's connection can take it
  // meanwhile (port 0 would give one from the range outgoing connections use).
  const config = parsed(configJson(`${dir.path}/engine.kv`, freePort(), receiver.port));
  const actorId = `mllp-out:127.0.0.1:${receiver.port}`;
  let engine: TestEngine | undefined;
  try {
    engine = await startEngine(config);
    const client = new Hl7Client({ host: "127.0.0.1", port: engine.mllpPort });
    const sent = ids("STOP", 12);
    try {
      for (const id of sent) {
        const ack = await client.sendAndWait(Hl7Message.parse(adt(id)));
        assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA", id);
      }
      await waitFor("the first message in flight", async () => {
        const s = await engine!.engine.supervisor.status(actorId);
        return s?.state === "awaiting-ack" && receiver.frames.length === 1;
      });
    } finally {
      await client.close();
    }
    // The next engine runs the bound config: the same port, the integration's queue named after it.
    const bound = engine.config;
    await engine.close();
    engine = undefined;
    assert.deepEqual(controlIds(receiver), [sent[0]]);

    release(); // its connection is gone: the ACK is lost
    engine = await startEngine(bound);
    const store = engine.engine.store;
    await waitFor("every message delivered", async () => {
      const { logs } = await listLogs(store.kv, { type: "SEND", status: "SUCCEEDED", limit: 100 });
      return logs.length === sent.length;
    });
    const { order, duplicates } = collapse(controlIds(receiver));
    assert.deepEqual(order, sent, "lost or reordered");
    // The in-flight one was never answered, so the next engine must send it again: exactly once.
    assert.deepEqual(duplicates, [sent[0]]);
    assert.equal(await store.depth(actorId), 0);
    assert.equal(receiver.accepted, 2);
  } finally {
    release();
    await engine?.close();
    await receiver.close();
  }
});

/** `main.ts serve` in a child process, its output collected for diagnostics. */
function spawnServe(cfgPath: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "serve", "--config", cfgPath],
    cwd: REPO_ROOT,
    env: { ADMIN_T: "test-token-0123456789" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output += chunk;
  };
  const drained = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    child,
    get output() {
      return output;
    },
    /** Kills the child with `signal` (if still running) and waits for it and its output. */
    async end(signal: Deno.Signal): Promise<Deno.CommandStatus> {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
      const status = await child.status;
      await drained;
      return status;
    },
  };
}

Deno.test("after SIGKILL, every message that got AA is delivered in order by the next process", async () => {
  await using dir = await tempDir({ prefix: "sigkill-" });
  const cfgPath = `${dir.path}/config.json`;
  const received: string[] = [];
  let holding = true;
  const receiver = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.getSegment("MSH")?.getField(10)?.toString() ?? "?");
      if (!holding) connection.send(message.buildAck());
      // While holding, the message stays unanswered: in flight until the process dies.
    });
  });
  const outPort = await startHl7Server(receiver);
  // The first process listens on a port no test's connection can take before the second binds
  // it again (see freePort), and logs it.
  await Deno.writeTextFile(
    cfgPath,
    JSON.stringify(configJson(`${dir.path}/engine.kv`, freePort(), outPort), null, 2),
  );
  const first = spawnServe(cfgPath);
  let second: ReturnType<typeof spawnServe> | undefined;
  const sent = ids("KILL", 15);
  try {
    await waitFor(
      "the first process listening",
      () => first.output.includes("mllp.listening"),
      30_000,
    )
      .catch((e) => {
        throw new Error(`${e.message}\n${first.output}`);
      });
    const inPort = Number(/mllp\.listening port=(\d+)/.exec(first.output)?.[1]);
    assert.ok(inPort > 0, first.output);
    const client = new Hl7Client({ host: "127.0.0.1", port: inPort });
    try {
      for (const id of sent) {
        const ack = await client.sendAndWait(Hl7Message.parse(adt(id)), { timeoutMs: 10_000 });
        assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA", id);
      }
      await waitFor("the first message in flight", () => received.length === 1);
    } finally {
      await client.close();
    }
    const killed = await first.end("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    assert.deepEqual(received, [sent[0]]);

    holding = false;
    // The second process on the first one's port: the integration's queue is named after it.
    await Deno.writeTextFile(
      cfgPath,
      JSON.stringify(configJson(`${dir.path}/engine.kv`, inPort, outPort), null, 2),
    );
    second = spawnServe(cfgPath);
    await waitFor(
      "every acknowledged message delivered",
      () => new Set(received).size === sent.length,
      30_000,
    ).catch((e) => {
      throw new Error(`${e.message}; received ${received}\n${second?.output}`);
    });
    const { order, duplicates } = collapse(received);
    assert.deepEqual(order, sent, "lost or reordered");
    // Only the message in flight at the kill comes twice: it was never answered, so it is resent.
    assert.deepEqual(duplicates, [sent[0]], `received ${received}`);
  } finally {
    await first.end("SIGKILL");
    await second?.end("SIGTERM");
    await receiver.stop({ forceDrainTimeoutMs: 100 });
  }
});
