/**
 * A planning thread that fails (an uncaught error, its heap limit, no answer) fails only the job
 * it was doing, with the reason: the message is dead-lettered FAILED (or, at intake, answered AE),
 * the engine logs `engine.plan-thread-failed`, and the next message gets a new thread. The thread
 * is tests/actors/engine/failing_plan_thread.ts, which fails on the words a message carries.
 */

import assert from "node:assert/strict";
import { inboundActorId } from "../../../actors/engine/identities.ts";
import { PlanThreads } from "../../../actors/engine/plan_threads.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { startEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { tempDir } from "../../helpers/temp.ts";
import { configFor } from "./plan_thread_fixture.ts";

const FAILING = new URL("./failing_plan_thread.ts", import.meta.url);

Deno.test("a planning thread that crashes, runs out of memory or hangs fails that message's step with the reason; the messages after it are planned on a new thread, in order", async () => {
  await using dir = await tempDir({ prefix: "plan-thread-failures-" });
  const bodies: string[] = [];
  const hook = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    bodies.push(await req.text());
    return new Response("ok");
  });
  const e = await startEngine(configFor(dir.path, hook.addr.port), {
    // Every message goes to the (failing) thread; a hang is given up after 10 s. Filling the
    // 96 MB heap took over 3 s beside two CPU hogs and the rest of the suite (the OOM was then
    // reported as a hang), well under 1 s alone.
    planThreads: { module: FAILING, offloadBytes: 0, timeoutMs: 10_000, maxHeapMb: 96 },
  });
  const sender = await RawMllpSender.connect(e.mllpPort);
  const failed = async () => {
    const { logs } = await listLogs(e.engine.store.kv, { type: "RECEIVE", status: "FAILED" });
    return new Map(logs.map((l) => [l.controlId, l.reason ?? ""]));
  };
  try {
    const sends: [string, string][] = [
      ["OK1", ""],
      ["CRASH1", "NTE|1||CRASH-ON-PLAN"],
      ["OOM1", "NTE|1||OOM-ON-PLAN"],
      ["HANG1", "NTE|1||HANG-ON-PLAN"],
      ["OK2", ""],
    ];
    // Each is read on the thread, stored and ACKed; planning follows on the inbound queue.
    for (const [id, extra] of sends) {
      const got = summarizeAck(await sender.request(adt(id, extra), 30_000));
      assert.equal(
        got.code,
        "AA",
        `${id}: ${got.reason}\n${e.log.lines.filter((l) => l.includes("plan-thread")).join("\n")}`,
      );
    }
    await waitFor("the two good messages delivered", () => bodies.length === 2, 60_000);
    await waitFor("three messages failed", async () => (await failed()).size === 3, 60_000);
    const ids = bodies.map((b) => JSON.parse(b).Patient.Identifiers[0].ID);
    assert.deepEqual(ids, ["OK1", "OK2"], "in order, the failures in between held nothing up");
    const reasons = await failed();
    const prefix = "could not parse or translate the message: the planning thread";
    assert.match(reasons.get("CRASH1")!, new RegExp(`^${prefix} failed: .*crashed on purpose`));
    assert.equal(
      reasons.get("OOM1"),
      `${prefix} ran out of memory (its heap limit is 96 MB)`,
    );
    assert.equal(reasons.get("HANG1"), `${prefix} did not finish within 10 s; it was stopped`);
    // Dead-lettered on the inbound queue: kept for reprocessing.
    const dead = await e.engine.store.deadLetters(inboundActorId(e.mllpPort, "127.0.0.1"));
    assert.equal(dead.length, 3);
    const logged = e.log.lines.filter((l) => l.includes("engine.plan-thread-failed"));
    assert.equal(logged.length, 3, logged.join("\n"));
    // A frame the thread cannot read is answered AE, and the sender may send it again.
    const ack = summarizeAck(await sender.request(adt("CRASH2", "NTE|1||CRASH-ON-READ"), 30_000));
    assert.equal(ack.code, "AE");
    assert.match(ack.reason ?? "", /could not read the message: the planning thread failed/);
    assert.equal(summarizeAck(await sender.request(adt("OK3"), 30_000)).code, "AA");
    await waitFor("the third good message delivered", () => bodies.length === 3, 60_000);
  } finally {
    await sender.close();
    await e.close();
    await hook.shutdown();
  }
});

Deno.test("PlanThreads: a job that throws on the thread throws the same here; a cancelled job ends its thread; close() cancels what waits", async () => {
  const pool = new PlanThreads({ log: memoryLogger(), module: FAILING });
  const config = configFor("/tmp/unused", 9);
  const job = (id: string, extra = "") => ({
    config,
    integrationId: "lab",
    contentType: "application/hl7-v2",
    payload: new TextEncoder().encode(adt(id, extra)),
    fallbackCharset: "windows-1252",
  });
  try {
    await assert.rejects(
      pool.plan(job("T1", "NTE|1||THROW-ON-PLAN")),
      /a planning bug, on purpose/,
    );
    const ok = await pool.plan(job("T2"));
    assert.equal(ok.status, "done");
    assert.ok(ok.status === "done" && ok.value.ok && ok.value.plan.routes.length === 1);
    // Cancelled while it hangs: answered at once, and the next job runs on a new thread.
    const abort = new AbortController();
    const hung = pool.plan(job("T3", "NTE|1||HANG-ON-PLAN"), abort.signal);
    await waitFor("the hanging job running", () => pool.pending === 1);
    abort.abort();
    assert.deepEqual(await hung, { status: "cancelled" });
    assert.equal((await pool.plan(job("T4"))).status, "done");
    // Close: the running job and the one waiting behind it are cancelled.
    const running = pool.plan(job("T5", "NTE|1||HANG-ON-PLAN"));
    const waiting = pool.plan(job("T6"));
    await waitFor("both taken", () => pool.pending === 2);
    await pool.close();
    assert.deepEqual(await running, { status: "cancelled" });
    assert.deepEqual(await waiting, { status: "cancelled" });
    assert.deepEqual(await pool.plan(job("T7")), { status: "cancelled" });
  } finally {
    await pool.close();
  }
});
