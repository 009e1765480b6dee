/**
 * A graceful stop marks what the MLLP destinations acknowledged: the delivery actors send nothing
 * new, the message on the wire (sent ahead by the socket thread) gets its ACK taken in and its
 * completion committed before the store closes, so the next engine on the same KV file sends none
 * of it again; a destination that never answers holds the stop only until the grace ends, its
 * message staying queued, and the stop report counts what was marked and what was not. Real
 * sockets (the engine's socket thread), a real KV file, the composed engine's stop.
 */

import assert from "node:assert/strict";
import { listLogs } from "../../actors/store/mod.ts";
import { Store } from "../../actors/store/store.ts";
import { configFrom, startEngine, type TestEngine } from "../helpers/engine.ts";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { delay, startReceiver } from "../helpers/receivers.ts";
import { tempDir } from "../helpers/temp.ts";

function configJson(kvPath: string, inPort: number, outPort: number, ackTimeoutSeconds = 30) {
  return {
    node: { id: "stop-marks" },
    kv: { path: kvPath },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: outPort, ackTimeoutSeconds },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  };
}

const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);

/** Sends every id to the engine's MLLP port, one at a time, each answered AA. */
async function feed(engine: TestEngine, sent: string[]): Promise<void> {
  const sender = await RawMllpSender.connect(engine.mllpPort);
  try {
    for (const id of sent) {
      const ack = summarizeAck(await sender.request(adt(id)));
      assert.equal(ack.code, "AA", id);
    }
  } finally {
    await sender.close();
  }
}

Deno.test("a stop takes in the ACK of the message on the wire and marks it: the next engine sends nothing acknowledged again", async () => {
  await using dir = await tempDir({ prefix: "stop-marks-" });
  const sent = ids("MARK", 10);
  // The 4th message's ACK comes 200 ms after the stop began (it was sent ahead by the socket
  // thread on the 3rd's ACK); every other message is answered at once.
  let stopBegan!: () => void;
  const stopping = new Promise<void>((resolve) => stopBegan = resolve);
  const acked: string[] = [];
  const receiver = startReceiver(async (f) => {
    if (f.controlId === sent[3] && f.connection === 1) {
      await stopping;
      await delay(200);
    }
    await f.ack("AA");
    acked.push(f.controlId);
  });
  const kvPath = `${dir.path}/engine.kv`;
  // The next engine binds the same port: one picked where no test's connection can take it.
  let engine: TestEngine | undefined = await startEngine(
    configFrom(configJson(kvPath, freePort(), receiver.port)),
  );
  try {
    await feed(engine, sent);
    await waitFor("the 4th message on the wire", () => receiver.frames.length === 4);
    const first = engine;
    const stop = first.stop();
    stopBegan();
    const report = await stop;
    engine = undefined;
    // Nothing new went out during the stop.
    assert.deepEqual(receiver.frames.map((f) => f.controlId), sent.slice(0, 4));

    const bound = first.config;
    engine = await startEngine(bound);
    const store = engine.engine.store;
    await waitFor("every message delivered", async () => {
      const { logs } = await listLogs(store.kv, { type: "SEND", status: "SUCCEEDED", limit: 100 });
      return logs.length === sent.length;
    });
    // Each message once, in order: the one acknowledged during the stop was not sent again.
    assert.deepEqual(receiver.frames.map((f) => f.controlId), sent);
    assert.deepEqual(acked, sent);
    assert.equal(report.deliveries.marked >= 1, true, JSON.stringify(report.deliveries));
    assert.equal(report.deliveries.unmarked, 0, JSON.stringify(report.deliveries));
    assert.equal(report.deliveries.cutOff, 0, JSON.stringify(report.deliveries));
    const line = first.log.lines.find((l) => l.includes("delivery.stopped"));
    assert.match(line ?? "", /delivery\.stopped actors=1 cutOff=0 marked=\d+ unmarked=0/);
  } finally {
    await engine?.close();
    await receiver.close();
  }
});

Deno.test("a destination that never answers holds a stop only until the grace ends: its message stays queued and is counted unmarked", async () => {
  await using dir = await tempDir({ prefix: "stop-silent-" });
  const sent = ids("SILENT", 3);
  // Receives, never answers (the handler settles at once: the receiver can close).
  const receiver = startReceiver(() => {});
  const kvPath = `${dir.path}/engine.kv`;
  const engine = await startEngine(configFrom(configJson(kvPath, 0, receiver.port)));
  const actorId = `mllp-out:127.0.0.1:${receiver.port}`;
  let closed = false;
  try {
    await feed(engine, sent);
    await waitFor("the first message on the wire", () => receiver.frames.length === 1);
    const graceMs = 1_000;
    const began = performance.now();
    const report = await engine.stop({ graceMs });
    closed = true;
    const tookMs = performance.now() - began;
    // The intake had nothing to drain: the delivery actor got the whole grace, and no more.
    assert.ok(tookMs >= graceMs - 50, `stopped after ${tookMs} ms, before the grace ended`);
    assert.ok(tookMs < graceMs + 3_000, `stopped after ${tookMs} ms, long past the grace`);
    assert.deepEqual(report.deliveries, {
      actors: 1,
      cutOff: 1,
      marked: 0,
      unmarked: 1,
      drainMs: report.deliveries.drainMs,
    });
    assert.match(
      engine.log.lines.find((l) => l.includes("delivery.stopped")) ?? "",
      /WARN +delivery\.stopped actors=1 cutOff=1 marked=0 unmarked=1 .*sent again after the restart/,
    );
    assert.equal(receiver.frames.length, 1);
    // Every message is still queued in the KV file.
    const store = await Store.open({ path: kvPath, node: "stop-marks" });
    try {
      assert.equal(await store.depth(actorId), sent.length);
    } finally {
      store.close();
    }
  } finally {
    if (!closed) await engine.close();
    await receiver.close();
  }
});

Deno.test("a reload that restarts a delivery actor takes in the ACK of the message its socket sent ahead: nothing is sent twice", async () => {
  await using dir = await tempDir({ prefix: "retire-marks-" });
  const sent = ids("RETIRE", 10);
  // The 4th message (sent ahead on the 3rd's ACK) is answered 200 ms after the reload began.
  let reloadBegan!: () => void;
  const reloading = new Promise<void>((resolve) => reloadBegan = resolve);
  const receiver = startReceiver(async (f) => {
    if (f.controlId === sent[3] && f.connection === 1) {
      await reloading;
      await delay(200);
    }
    await f.ack("AA");
  });
  const engine = await startEngine(
    configFrom(configJson(`${dir.path}/engine.kv`, 0, receiver.port)),
  );
  try {
    await feed(engine, sent);
    await waitFor("the 4th message on the wire", () => receiver.frames.length === 4);
    // Another ACK timeout: the destination's actor is restarted after what it has on the wire.
    const running = engine.engine.config;
    const next = {
      ...running,
      destinations: running.destinations.map((d) =>
        d.mllp ? { ...d, mllp: { ...d.mllp, ackTimeoutSeconds: 31 } } : d
      ),
    };
    const applying = engine.engine.reconfigure(next, "retire-test", Date.now());
    reloadBegan();
    const applied = await applying;
    assert.ok(applied.some((a) => a.startsWith("restarted mllp-out:")), applied.join("; "));
    const store = engine.engine.store;
    await waitFor("every message delivered", async () => {
      const { logs } = await listLogs(store.kv, { type: "SEND", status: "SUCCEEDED", limit: 100 });
      return logs.length === sent.length;
    });
    assert.deepEqual(receiver.frames.map((f) => f.controlId), sent);
  } finally {
    await engine.close();
    await receiver.close();
  }
});

Deno.test("during a stop no delivery actor starts again: a destination drained early sends nothing new while another's grace runs", async () => {
  await using dir = await tempDir({ prefix: "stop-no-restart-" });
  const sent = ids("BOTH", 10);
  let stopBegan!: () => void;
  const stopping = new Promise<void>((resolve) => stopBegan = resolve);
  // `fast` answers at once but the 4th message, 200 ms after the stop began; `silent` never.
  const fast = startReceiver(async (f) => {
    if (f.controlId === sent[3] && f.connection === 1) {
      await stopping;
      await delay(200);
    }
    await f.ack("AA");
  });
  const silent = startReceiver(() => {});
  const json = configJson(`${dir.path}/engine.kv`, 0, fast.port);
  const dest = (id: string, port: number) => ({
    id,
    environment: "dev",
    mllp: { host: "127.0.0.1", port, ackTimeoutSeconds: 30 },
  });
  const engine = await startEngine(configFrom({
    ...json,
    destinations: [dest("fast", fast.port), dest("silent", silent.port)],
    subscriptions: [{ from: { integration: "feed" }, to: ["fast", "silent"] }],
  }));
  let closed = false;
  try {
    await feed(engine, sent);
    await waitFor(
      "both destinations' messages on the wire",
      () => fast.frames.length === 4 && silent.frames.length === 1,
    );
    const stop = engine.stop({ graceMs: 1_500 });
    stopBegan();
    const report = await stop;
    closed = true;
    // The fast destination's actor ended once its ACK was taken in; the queue it left was not
    // started again while the silent one's grace ran (the restore loop looks every 50 ms).
    assert.deepEqual(fast.frames.map((f) => f.controlId), sent.slice(0, 4));
    assert.equal(silent.frames.length, 1);
    assert.deepEqual(
      { actors: report.deliveries.actors, cutOff: report.deliveries.cutOff },
      { actors: 2, cutOff: 1 },
    );
    assert.ok(report.deliveries.marked >= 1, JSON.stringify(report.deliveries));
    assert.equal(report.deliveries.unmarked, 1, JSON.stringify(report.deliveries));
  } finally {
    if (!closed) await engine.close();
    await fast.close();
    await silent.close();
  }
});
