/**
 * `main.ts serve` stopped by SIGTERM while a few MLLP senders keep it busy: the engine drains
 * before it exits. Every message it answered `AA` is in the KV file afterwards; a message it did
 * not answer `AA` is not (it answered `AE` "the engine is stopping", or nothing: the sender
 * resends either way); and every sender's connection ends in order (EOF), never with a reset. The
 * stop is logged: `engine.stopping` with what is in flight, `engine.stopped` with the counts.
 * A real child process, real sockets, the real KV file read once the child exited.
 * @module
 */

import assert from "node:assert/strict";
import type { MessageRecord } from "../../actors/store/mod.ts";
import { spawnEngine } from "../helpers/engine_process.ts";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { tempDir } from "../helpers/temp.ts";

const SENDERS = 4;

/** What one sender saw until its connection ended. */
interface SenderRun {
  acked: string[];
  /** Answered, but not AA (the stop answer). */
  refused: string[];
  /** Sent, and the connection ended before its answer. */
  unanswered: string[];
  /** Why the connection ended, when not with an orderly EOF. */
  endError: unknown;
}

/**
 * Sends one message after another (each after the answer to the previous), until a message is
 * refused or the connection ends; `onAck` after each AA.
 */
async function sendUntilStopped(
  port: number,
  prefix: string,
  onAck: () => void,
): Promise<SenderRun> {
  const run: SenderRun = { acked: [], refused: [], unanswered: [], endError: undefined };
  const sender = await RawMllpSender.connect(port);
  try {
    // Bounded: the engine is stopped well before this many messages.
    for (let i = 0; i < 100_000; i++) {
      const id = `${prefix}-${i}`;
      let reply: Uint8Array;
      try {
        reply = await sender.request(adt(id), 30_000);
      } catch {
        run.unanswered.push(id);
        break;
      }
      const ack = summarizeAck(reply);
      assert.equal(ack.msa2, id);
      if (ack.code !== "AA") {
        run.refused.push(id);
        break;
      }
      run.acked.push(id);
      onAck();
    }
    // The engine ends the connection (after a refusal, once its answers are out).
    await sender.closedByPeer(30_000);
    run.endError = sender.endError;
  } finally {
    await sender.close();
  }
  return run;
}

Deno.test("main.ts serve: SIGTERM under load from several MLLP senders drains: every AA-acknowledged message is in the KV file, none other is, and no sender sees a reset", async () => {
  await using dir = await tempDir({ prefix: "sigterm-drain-" });
  const mllp = freePort();
  const file = `${dir.path}/engine.json`;
  const kvPath = `${dir.path}/engine.kv`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      node: { id: "drain" },
      kv: { path: kvPath },
      http: { port: 0, hostname: "127.0.0.1", development: true },
      environments: [{ id: "dev", type: "development" }],
      listeners: [{ port: mllp, hostname: "127.0.0.1" }],
      integrations: [{
        id: "feed",
        environment: "dev",
        mllp: { port: mllp, allowedIps: ["127.0.0.1"] },
      }],
    }),
  );
  const engine = spawnEngine({ flags: ["-A"], args: ["serve", "--config", file] });
  const seen = (event: string) =>
    engine.output().split("\n").some((l) => l.split(" ").includes(event));
  try {
    await waitFor("the engine started", () => {
      if (engine.exited()) throw new Error(`the engine exited:\n${engine.output()}`);
      return seen("mllp.listening") && seen("http.listening");
    }, 60_000);
    let acks = 0;
    let signalled = false;
    const runs = Array.from(
      { length: SENDERS },
      (_, k) =>
        sendUntilStopped(mllp, `S${k}`, () => {
          // Stopped while all of them are sending: each has had a few answers by then.
          if (++acks === SENDERS * 20 && !signalled) {
            signalled = true;
            engine.child.kill("SIGTERM");
          }
        }),
    );
    const results = await Promise.all(runs);
    const status = await engine.status;
    await engine.drained;
    const output = engine.output();
    assert.ok(signalled, output);
    assert.equal(status.code, 0, output);
    assert.match(output, /engine\.stopping signal=SIGTERM graceMs=10000 mllpConnections=\d+/);
    assert.match(output, /engine\.stopped signal=SIGTERM .*unanswered=0/);

    const kv = await Deno.openKv(kvPath);
    const stored = new Set<string>();
    try {
      for await (const e of kv.list<MessageRecord>({ prefix: ["msg"] })) {
        if (e.value.controlId) stored.add(e.value.controlId);
      }
    } finally {
      kv.close();
    }
    for (const [k, r] of results.entries()) {
      const summary = `sender ${k}: ${JSON.stringify(r)}\n${output}`;
      assert.equal(r.endError, undefined, `a reset: ${summary}`);
      for (const id of r.acked) assert.ok(stored.has(id), `${id} ACKed AA, not stored: ${summary}`);
      for (const id of [...r.refused, ...r.unanswered]) {
        assert.ok(!stored.has(id), `${id} stored without its AA: ${summary}`);
      }
    }
    assert.equal(stored.size, results.reduce((n, r) => n + r.acked.length, 0));
  } finally {
    if (!engine.exited()) engine.child.kill("SIGKILL");
    await engine.status;
    await engine.drained;
  }
});

Deno.test("main.ts serve: a second SIGTERM during the drain stops at once (exit 1, engine.stop-forced) instead of waiting out the grace", async () => {
  await using dir = await tempDir({ prefix: "sigterm-twice-" });
  const file = `${dir.path}/engine.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      node: { id: "twice" },
      kv: { path: `${dir.path}/engine.kv` },
      http: { port: 0, hostname: "127.0.0.1", development: true },
      environments: [{ id: "dev", type: "development" }],
    }),
  );
  const engine = spawnEngine({ flags: ["-A"], args: ["serve", "--config", file] });
  let slow: Deno.Conn | undefined;
  try {
    await waitFor("the engine started", () => {
      if (engine.exited()) throw new Error(`the engine exited:\n${engine.output()}`);
      return /http\.listening .*port=\d+/.test(engine.output());
    }, 60_000);
    const port = Number(/http\.listening .*port=(\d+)/.exec(engine.output())![1]);
    // A token request whose body never comes in full: in flight until the body timeout (60 s),
    // so the drain would wait out its whole grace (10 s).
    slow = await Deno.connect({ hostname: "127.0.0.1", port });
    await slow.write(
      new TextEncoder().encode(
        "POST /v2/auth/token HTTP/1.1\r\nHost: t\r\n" +
          "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant",
      ),
    );
    // Answered after the slow request's headers were read (one connection after the other).
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    await health.body?.cancel();
    engine.child.kill("SIGTERM");
    await waitFor("the stop to begin", () => engine.output().includes("engine.stopping"));
    assert.match(engine.output(), /engine\.stopping .*httpRequests=1/, engine.output());
    const second = performance.now();
    engine.child.kill("SIGTERM");
    const status = await engine.status;
    const tookMs = performance.now() - second;
    await engine.drained;
    assert.ok(tookMs < 5_000, `exited ${tookMs} ms after the second signal`);
    assert.equal(status.code, 1, engine.output());
    assert.match(engine.output(), /engine\.stop-forced signal=SIGTERM/);
  } finally {
    try {
      slow?.close();
    } catch { /* closed by the engine */ }
    if (!engine.exited()) engine.child.kill("SIGKILL");
    await engine.status;
    await engine.drained;
  }
});
