/**
 * What an MLLP delivery actor's status (`GET /admin/actors`, the console, `main.ts status`) says
 * is in flight: after an engine restart, the first attempt at the queue's head shows the message
 * with its log, its attempts and since when; and a refused attempt stays in flight until its
 * failure is recorded (a slow commit no longer leaves `awaiting-ack` with nothing in flight).
 * Real engine, real KV file, real MLLP peers.
 * @module
 */

import assert from "node:assert/strict";
import type { ActorStatus } from "../../../actors/runtime/actor.ts";
import { configFrom, startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

function configJson(kvPath: string, outPort: number) {
  return {
    node: { id: "in-flight" },
    kv: { path: kvPath },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: outPort, ackTimeoutSeconds: 30 },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  };
}

async function feed(engine: TestEngine, controlId: string): Promise<void> {
  const sender = await RawMllpSender.connect(engine.mllpPort);
  try {
    assert.equal(summarizeAck(await sender.request(adt(controlId))).code, "AA");
  } finally {
    await sender.close();
  }
}

Deno.test("after a restart, the first attempt at the queue's head shows the message in flight with its log and since when", async () => {
  await using dir = await tempDir({ prefix: "in-flight-restart-" });
  // Before the restart the peer never answers; after it, it holds the ACK until released.
  let restarted = false;
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const receiver = startReceiver(async (f) => {
    if (!restarted) return;
    await held;
    await f.ack("AA");
  });
  const actorId = `mllp-out:127.0.0.1:${receiver.port}`;
  let engine: TestEngine | undefined = await startEngine(
    configFrom(configJson(`${dir.path}/engine.kv`, receiver.port)),
  );
  try {
    await feed(engine, "RESTART-1");
    await waitFor("the message on the wire", () => receiver.frames.length === 1);
    const before = (await engine.engine.supervisor.status(actorId))?.inFlight;
    assert.ok(before, "in flight before the restart");
    // Stopped with its ACK outstanding: it stays queued, sent again by the next engine (whose
    // listener takes a port of its own: the one freed may meanwhile be another test's).
    await engine.stop({ graceMs: 200 });
    engine = undefined;
    restarted = true;
    const startedAt = Date.now();
    engine = await startEngine(configFrom(configJson(`${dir.path}/engine.kv`, receiver.port)));
    const running = engine;
    await waitFor(
      "the first attempt after the restart on the wire",
      () => receiver.frames.length === 2,
    );
    let status: ActorStatus | undefined;
    await waitFor("awaiting its ACK", async () => {
      status = await running.engine.supervisor.status(actorId);
      return status?.state === "awaiting-ack";
    });
    const inFlight = status?.inFlight;
    assert.ok(inFlight, `in flight during the first attempt: ${JSON.stringify(status)}`);
    assert.equal(inFlight.messageId, before.messageId);
    assert.equal(inFlight.logId, before.logId);
    assert.equal(inFlight.attempts, 0, "the attempt under way is recorded when it ends");
    assert.equal(typeof inFlight.since, "number", "since when it is being delivered");
    assert.ok(inFlight.since! >= startedAt, `since ${inFlight.since} ≥ restart ${startedAt}`);
    release();
    await waitFor("delivered", async () => {
      const s = await running.engine.supervisor.status(actorId);
      return s?.queueDepth === 0 && s.inFlight === undefined;
    });
  } finally {
    release();
    await engine?.close();
    await receiver.close();
  }
});

Deno.test("a refused attempt stays in flight until its failure is recorded; since holds across its retries", async () => {
  await using dir = await tempDir({ prefix: "in-flight-recording-" });
  const receiver = startReceiver((f) => f.ack("AE", { text: "not now" }));
  const actorId = `mllp-out:127.0.0.1:${receiver.port}`;
  const engine = await startEngine(
    configFrom(configJson(`${dir.path}/engine.kv`, receiver.port)),
  );
  // The first failure's commit is held, as a busy KV holds it after a restart.
  const store = engine.engine.store;
  const recordAttempt = store.recordAttempt.bind(store);
  let recording!: () => void;
  const reached = new Promise<void>((resolve) => recording = resolve);
  let commit!: () => void;
  const committed = new Promise<void>((resolve) => commit = resolve);
  let held = false;
  store.recordAttempt = async (logId, attempt) => {
    if (!held) {
      held = true;
      recording();
      await committed;
    }
    await recordAttempt(logId, attempt);
  };
  try {
    await feed(engine, "REFUSED-1");
    await reached;
    const during = await engine.engine.supervisor.status(actorId);
    assert.equal(during?.lastError, "AE: not now (error 207)");
    assert.ok(during?.inFlight, `in flight while its failure commits: ${JSON.stringify(during)}`);
    assert.equal(during.inFlight.attempts, 0);
    const since = during.inFlight.since;
    assert.equal(typeof since, "number");
    commit();
    let later: ActorStatus | undefined;
    await waitFor("retried and backing off", async () => {
      later = await engine.engine.supervisor.status(actorId);
      return later?.state === "backoff" && (later.inFlight?.attempts ?? 0) >= 2;
    });
    assert.equal(later?.inFlight?.logId, during.inFlight.logId);
    assert.equal(later?.inFlight?.since, since, "since the first attempt, not the latest");
  } finally {
    commit();
    await engine.close();
    await receiver.close();
  }
});
