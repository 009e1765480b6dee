/**
 * A large HL7 message does not hold the engine's thread: it is read, routed and translated on the
 * planning thread (actors/engine/plan_threads.ts), and a timer on the engine's thread keeps firing
 * while it is. Real engine (compose), real MLLP listener, real HTTP destination, KV file. With
 * BIG_INLINE=1 the engine plans every message on its own thread, as before the planning thread
 * (the test then fails: the thread is held well over a second).
 */

import assert from "node:assert/strict";
import { planHl7Routes } from "../../../actors/engine/hl7_routing.ts";
import { destinationActorId } from "../../../actors/engine/identities.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { startEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { tempDir } from "../../helpers/temp.ts";
import { assertHeldBelow, gapMonitor } from "../../helpers/thread_hold.ts";
import { configFor, inlineWhenAsked } from "./plan_thread_fixture.ts";

/** An ORU^R01 of `count` OBX (a 6 MB one: 150,000). */
function bigOru(controlId: string, count: number): string {
  const parts = [
    `MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01^ORU_R01|${controlId}|P|2.5.1`,
    "PID|1||100001^^^HOSP^MR||DOE^JANE||19800101|F",
    "OBR|1|P1|F1|CBC",
  ];
  for (let i = 1; i <= count; i++) parts.push(`OBX|${i}|NM|718-7^HGB^LN||${i % 20}.${i % 10}|g/dL`);
  return parts.join("\r") + "\r";
}

Deno.test("a 6 MB ORU routed to a JSON destination is read, routed and translated off the engine's thread: no gap of a 10 ms timer holds the thread 400 ms, and the JSON delivered is the engine thread's own, in order", async () => {
  await using dir = await tempDir({ prefix: "large-message-" });
  const bodies: string[] = [];
  const hook = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    bodies.push(await req.text());
    return new Response("ok");
  });
  const e = await startEngine(configFor(dir.path, hook.addr.port), inlineWhenAsked());
  const sender = await RawMllpSender.connect(e.mllpPort);
  const app = destinationActorId(e.config.destinations[0]!);
  const routed = async (n: number) => {
    const { logs } = await listLogs(e.engine.store.kv, { type: "RECEIVE", status: "SUCCEEDED" });
    return logs.length === n;
  };
  try {
    // Warm: a small message first, so the big one's figures are its own.
    assert.equal(summarizeAck(await sender.request(adt("SMALL1"))).code, "AA");
    await waitFor("the small message delivered", () => bodies.length === 1);
    // Delivery (reading back and posting 22 MB of JSON) waits: what is timed is the engine's
    // reading, routing and translating.
    assert.equal((await e.engine.supervisor.command(app, "pause", "test", "hold"))?.ok, true);
    // Each run sends a new big message (BIG1, BIG2, ...) and a small one after it (AFTER1, ...).
    const texts: string[] = [];
    // Its own CPU time in one timer gap. Off the thread, 100 ms with two CPU hogs beside the test
    // (a thread held off the CPU catches up on its sockets in one gap); on it (BIG_INLINE=1),
    // 1.3 s in one gap: 400 ms tells the two apart on a slower machine too.
    const runs = await assertHeldBelow({
      boundMs: 400,
      what: "the engine's thread",
      run: async (attempt) => {
        const text = bigOru(`BIG${attempt}`, 150_000);
        assert.ok(text.length > 5_000_000, `${text.length}`);
        texts.push(text);
        const monitor = gapMonitor();
        const started = performance.now();
        assert.equal(summarizeAck(await sender.request(text, 60_000)).code, "AA");
        // One sender, one queue: the small message after it is routed after it.
        assert.equal(summarizeAck(await sender.request(adt(`AFTER${attempt}`))).code, "AA");
        await waitFor("both routed", () => routed(1 + 2 * attempt), 120_000);
        const { gap, held } = monitor.stop();
        const detail = `${text.length} bytes routed in ${
          (performance.now() - started).toFixed(0)
        } ms; longest timer gap ${gap.toFixed(0)} ms`;
        return { held, detail };
      },
    });
    assert.equal((await e.engine.supervisor.command(app, "resume", "test", "go"))?.ok, true);
    await waitFor("all delivered", () => bodies.length === 1 + 2 * runs.length, 120_000);
    for (const [i, text] of texts.entries()) {
      // Byte for byte what the engine's thread makes of the same message under the same config,
      // and delivered before the small message sent after it.
      const plan = planHl7Routes({
        config: e.config,
        integration: e.config.integrations[0],
        integrationId: "lab",
        message: parseHl7(text),
      });
      assert.equal(bodies[1 + 2 * i], JSON.stringify(plan.json), `BIG${i + 1}`);
      assert.equal(JSON.parse(bodies[2 + 2 * i]!).Patient.Identifiers[0].ID, `AFTER${i + 1}`);
    }
  } finally {
    await sender.close();
    await e.close();
    await hook.shutdown();
  }
});
