/**
 * Graceful stop of the composed engine (`stop()`, what SIGTERM runs; `close()` too): a message whose commit is
 * under way when the stop begins is stored and gets its `AA` before its connection closes; a
 * message completed after the stop began gets the stop answer (`AE`, "the engine is stopping") and
 * is not stored; connections end with a FIN, never a reset; no new connection is accepted; and a
 * commit that never finishes holds the stop no longer than the grace.
 *
 * Real loopback sockets and a real KV file; the commit is held by a gate put in front of the
 * store's `accept`.
 * @module
 */

import assert from "node:assert/strict";
import type { AcceptRequest, AcceptResult } from "../../actors/store/store.ts";
import type { MessageRecord } from "../../actors/store/mod.ts";
import { configFrom, startEngine, type TestEngine } from "../helpers/engine.ts";
import { adt, waitFor } from "../helpers/net.ts";
import { frameOf, RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { tempDir } from "../helpers/temp.ts";

function configIn(dir: string) {
  return configFrom({
    node: { id: "stop" },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
  });
}

/** Holds every commit of `engine`'s store until `release()`; `entered` once the first one waits. */
function gateCommits(engine: TestEngine) {
  const store = engine.engine.store;
  const accept = store.accept.bind(store);
  let entered!: () => void;
  let release!: () => void;
  const inCommit = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (release = r));
  store.accept = async (request: AcceptRequest): Promise<AcceptResult> => {
    entered();
    await gate;
    return await accept(request);
  };
  return { inCommit, release };
}

/** The MSH-10 of every message in the KV file at `path` (read once the engine closed it). */
async function storedControlIds(path: string): Promise<string[]> {
  const kv = await Deno.openKv(path);
  try {
    const ids: string[] = [];
    for await (const e of kv.list<MessageRecord>({ prefix: ["msg"] })) {
      if (e.value.controlId) ids.push(e.value.controlId);
    }
    return ids.sort();
  } finally {
    kv.close();
  }
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("graceful stop: a message mid-commit when the stop begins is stored and ACKed AA, one sent after the stop began gets AE 'stopping' and is not stored, and the connections end with a FIN", async () => {
  await using dir = await tempDir({ prefix: "graceful-stop-" });
  const engine = await startEngine(configIn(dir.path));
  const gate = gateCommits(engine);
  const sender = await RawMllpSender.connect(engine.mllpPort);
  const idle = await RawMllpSender.connect(engine.mllpPort);
  let closing: ReturnType<TestEngine["stop"]> | undefined;
  try {
    await sender.write(frameOf(adt("MID-1")));
    await gate.inCommit;
    const server = engine.servers.mllp[0]!;
    assert.deepEqual(engine.intake(), {
      mllpConnections: 2,
      mllpUnanswered: 1,
      httpRequests: 0,
    });
    closing = engine.stop({ graceMs: 10_000 });
    // After the stop began: read (counted unanswered) while the first commit still waits.
    await sender.write(frameOf(adt("LATE-1")));
    await waitFor("the late frame read", () => server.unanswered === 2);
    // No new connection is taken once the stop began.
    await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port: engine.mllpPort }));
    gate.release();
    const report = await within("the stop", 15_000, closing);
    const [first, second] = await sender.frameCount(2);
    assert.deepEqual(
      [summarizeAck(first!).code, summarizeAck(first!).msa2],
      ["AA", "MID-1"],
    );
    const late = summarizeAck(second!);
    assert.deepEqual([late.code, late.msa2], ["AE", "LATE-1"]);
    assert.match(late.reason ?? "", /engine is stopping/);
    await sender.closedByPeer();
    await idle.closedByPeer();
    assert.equal(sender.endError, undefined, "an orderly end (FIN), not a reset");
    assert.equal(idle.endError, undefined, "an orderly end (FIN), not a reset");
    assert.equal(idle.frames.length, 0);
    assert.equal(report.drained, true);
    assert.deepEqual(report.mllp, {
      connections: 2,
      answered: 1,
      refused: 1,
      unanswered: 0,
      senders: 0,
    });
    assert.deepEqual(await storedControlIds(`${dir.path}/engine.kv`), ["MID-1"]);
  } finally {
    gate.release();
    await sender.close();
    await idle.close();
    await (closing ?? engine.close());
  }
});

Deno.test("graceful stop: a commit that never finishes holds the stop no longer than the grace; its sender is counted unanswered and its connection closed", async () => {
  await using dir = await tempDir({ prefix: "graceful-stop-grace-" });
  const engine = await startEngine(configIn(dir.path));
  const gate = gateCommits(engine);
  const sender = await RawMllpSender.connect(engine.mllpPort);
  try {
    await sender.write(frameOf(adt("STUCK-1")));
    await gate.inCommit;
    const graceMs = 500;
    const started = performance.now();
    const report = await within("the stop", 15_000, engine.stop({ graceMs }));
    const tookMs = performance.now() - started;
    assert.ok(tookMs >= graceMs - 50, `closed after ${tookMs} ms, before the grace`);
    assert.ok(tookMs < graceMs + 5_000, `closed after ${tookMs} ms, long past the grace`);
    assert.equal(report.drained, false);
    assert.equal(report.mllp.unanswered, 1);
    assert.equal(report.mllp.senders, 1);
    assert.ok(engine.log.lines.some((l) => l.includes("mllp.stop-unanswered")));
    await sender.closedByPeer();
    assert.equal(sender.frames.length, 0, "never an AA for a message not stored");
  } finally {
    // The held commit now meets a closed store: it fails, and its answer goes nowhere.
    gate.release();
    await waitFor(
      "the held commit to end",
      () => engine.log.lines.some((l) => /mllp\.(store-failed|accepted)/.test(l)),
    );
    await sender.close();
    await engine.close();
  }
});
