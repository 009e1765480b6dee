/**
 * A large data-model JSON message posted to `POST /endpoint` is parsed (with its duplicate-key
 * check), validated, routed and translated on the planning thread (actors/engine/api_large_json.ts),
 * not on the engine's thread, and the engine answers and stores exactly what its own thread
 * would have. Real engine (compose) with its HTTP server and MLLP listener, real HTTP
 * destinations, KV files. An engine given `planThreads: { offloadBytes: Infinity }` does all of
 * it on its own thread: that is the reference the answers are compared with. With BIG_INLINE=1
 * the engine of the hold test is given it too, as before the planning thread (that test then
 * fails).
 */

import assert from "node:assert/strict";
import { jsonToHl7, validateDataModel } from "../../../codecs/datamodel/mod.ts";
import { mshOptions } from "../../../actors/engine/api_inbox.ts";
import { destinationActorId } from "../../../actors/engine/identities.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { whileTicking } from "../../helpers/mllp_ticker.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { tempDir } from "../../helpers/temp.ts";
import { assertHeldBelow } from "../../helpers/thread_hold.ts";
import { inlineWhenAsked } from "./plan_thread_fixture.ts";
import {
  largeJsonConfig,
  mediaBody,
  mediaMessage,
  type PostAnswer,
  postFromWorker,
  startHook,
} from "./large_json_fixture.ts";

/** HL7 v2 text with MSH-10 emptied. */
function withoutControlId(hl7: string): string {
  const end = hl7.indexOf("\r");
  const msh = hl7.slice(0, end).split("|");
  msh[9] = "";
  return msh.join("|") + hl7.slice(end);
}

/** Whether `e`'s planning thread was ever started (it starts with its first job). */
function threadStarted(e: TestEngine): boolean {
  return e.log.lines.some((l) => l.includes("engine.plan-thread-started"));
}

async function post(
  e: TestEngine,
  token: string,
  body: Uint8Array<ArrayBuffer>,
): Promise<PostAnswer> {
  const res = await fetch(`${e.base}/endpoint`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body,
  });
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    text: await res.text(),
  };
}

Deno.test("a 24 MB Media message posted to /endpoint is parsed, validated and translated to HL7 off the engine's thread: MLLP messages sent every 10 ms meanwhile are all acknowledged, and no gap of a 10 ms timer holds the engine's thread 250 ms", async () => {
  await using dir = await tempDir({ prefix: "large-json-" });
  const hook = startHook();
  const e = await startEngine(largeJsonConfig(dir.path, hook.port, 40_000_000), {
    http: true,
    ...inlineWhenAsked(),
  });
  const sender = await RawMllpSender.connect(e.mllpPort);
  try {
    const token = await apiOf(e).token("clinic", "clinic-secret");
    assert.equal(summarizeAck(await sender.request(adt("WARM"))).code, "AA");
    // Delivery (reading back and posting 24 MB twice) waits: what is timed is the intake.
    for (const d of e.config.destinations) {
      const paused = await e.engine.supervisor.command(destinationActorId(d), "pause", "t", "hold");
      assert.equal(paused?.ok, true);
    }
    // Each run posts the body again (nothing on /endpoint takes a body for a copy of another:
    // each is stored as a new message), with MLLP messages TICK<run>-<n> sent meanwhile.
    // Its own CPU time, so a machine busy elsewhere does not count. On the engine's thread
    // (BIG_INLINE=1) this body held it 430-840 ms at once (the parse ~250 ms, validation and HL7
    // ~400 ms); off it, the longest was 20-70 ms (KV writes of the 24 MB stored twice, the
    // answer), 100-120 ms with two CPU hogs or other tests beside it (held off the CPU, the thread
    // catches up on its sockets in one gap): 250 ms, under half of what the one-go code holds at
    // its worst and twice the most the good code held, leaves room for a slower machine.
    const acks: number[] = [];
    await assertHeldBelow({
      boundMs: 250,
      what: "the engine's thread",
      run: async (attempt) => {
        const t = await whileTicking(sender, `TICK${attempt}`, () =>
          postFromWorker({
            url: `${e.base}/endpoint`,
            token,
            blobChars: 24_000_000,
          }));
        const detail = `24 MB taken in ${t.ms.toFixed(0)} ms; ${t.acked} MLLP messages ` +
          `acknowledged meanwhile (slowest ACK ${t.worstAckMs.toFixed(0)} ms); longest timer gap ` +
          `${t.gap.toFixed(0)} ms`;
        assert.equal(t.value.status, 200, t.value.text.slice(0, 500));
        assert.equal(JSON.parse(t.value.text).Meta.DataModel, "Media");
        acks.push(t.acked);
        return { held: t.held, detail };
      },
    });
    for (const during of acks) {
      assert.ok(during > 0, "MLLP messages were acknowledged while the body was taken");
    }
    assert.ok(threadStarted(e), "the planning thread took the body");
  } finally {
    await sender.close();
    await e.close();
    await hook.server.shutdown();
  }
});

/** Large bodies the engine refuses, each with why; over the 32 KiB the planning thread takes. */
function refusedBodies(): [string, Uint8Array<ArrayBuffer>][] {
  const text = (blob: number, change: (m: Record<string, unknown>) => void = () => {}) => {
    const m = mediaMessage(blob);
    change(m);
    return JSON.stringify(m);
  };
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const ok = text(100_000);
  const badByte = utf8(ok);
  badByte[50_000] = 0xff;
  let deep: unknown = "x";
  for (let i = 0; i < 70; i++) deep = [deep];
  return [
    ["not JSON (cut short)", utf8(ok.slice(0, -1))],
    [
      "a key named twice",
      utf8(ok.replace('"FileName":"scan"', '"FileName":"scan","FileName":"b"')),
    ],
    ["not UTF-8", badByte],
    ["a lone surrogate", utf8(ok.replace('"FileName":"scan"', '"FileName":"\\ud800"'))],
    [
      "nested too deep",
      utf8(text(100_000, (m) => (m.Media as Record<string, unknown>).Notifications = deep)),
    ],
    ["not the schema", utf8(text(100_000, (m) => m.Patient = "JANE DOE"))],
    ["an embedded file over the limit", utf8(text(1_500_000))],
    [
      "an unknown destination",
      utf8(
        text(
          100_000,
          (m) => (m.Meta as Record<string, unknown>).Destinations = [{ ID: "nowhere" }],
        ),
      ),
    ],
    ["not an object", utf8(JSON.stringify(["x".repeat(100_000)]))],
  ];
}

Deno.test("a large JSON body the engine refuses gets, from the planning thread, the status and body the engine's thread answers: invalid JSON, a repeated key, not UTF-8, a lone surrogate, too deep, not the schema, an embedded file over the limit, an unknown destination", async () => {
  await using dir = await tempDir({ prefix: "large-json-refusals-" });
  await Deno.mkdir(`${dir.path}/a`);
  await Deno.mkdir(`${dir.path}/b`);
  const hook = startHook();
  const offloading = await startEngine(largeJsonConfig(`${dir.path}/a`, hook.port, 1_000_000), {
    http: true,
  });
  const inline = await startEngine(largeJsonConfig(`${dir.path}/b`, hook.port, 1_000_000), {
    http: true,
    planThreads: { offloadBytes: Infinity },
  });
  try {
    const tokens = await Promise.all(
      [offloading, inline].map((e) => apiOf(e).token("clinic", "clinic-secret")),
    );
    for (const [why, body] of refusedBodies()) {
      assert.ok(body.byteLength > 32 * 1024, why);
      const there = await post(offloading, tokens[0]!, body);
      const here = await post(inline, tokens[1]!, body);
      assert.ok(here.status >= 400 && here.status < 500, `${why}: ${here.status} ${here.text}`);
      assert.deepEqual(there, here, why);
    }
    assert.ok(threadStarted(offloading), "the planning thread took the bodies");
    assert.ok(!threadStarted(inline));
    // Nothing was stored by either.
    for (const e of [offloading, inline]) {
      assert.equal((await listLogs(e.engine.store.kv, { type: "RECEIVE" })).logs.length, 0);
    }
  } finally {
    await offloading.close();
    await inline.close();
    await hook.server.shutdown();
  }
});

Deno.test("a large JSON message taken on the planning thread is answered, stored and delivered as a small one is: the same answer, RECEIVE and SEND logs, the JSON as posted and the HL7 the engine's thread writes", async () => {
  await using dir = await tempDir({ prefix: "large-json-parity-" });
  const hook = startHook();
  const e = await startEngine(largeJsonConfig(dir.path, hook.port, 40_000_000), { http: true });
  try {
    const token = await apiOf(e).token("clinic", "clinic-secret");
    const small = mediaBody(1_000, "SMALL1");
    const large = mediaBody(1_000_000, "LARGE1");
    const answers: Record<string, unknown>[] = [];
    for (const body of [small, large]) {
      const res = await post(e, token, body);
      assert.equal(res.status, 200, res.text.slice(0, 500));
      assert.equal(res.contentType, "application/json");
      answers.push(JSON.parse(res.text));
      if (body === small) assert.ok(!threadStarted(e), "a small body stays on the engine's thread");
    }
    assert.ok(threadStarted(e), "the planning thread took the large body");
    // The same answer but for the ids of the message and its logs.
    const ids = (a: Record<string, unknown>) =>
      JSON.parse(
        JSON.stringify(a).replace(/"(ID|AttemptID)":"[0-9A-Za-z_-]{12,}(-1)?"/g, '"$1":"*"'),
      );
    assert.deepEqual(ids(answers[1]!), ids(answers[0]!));

    await waitFor("4 deliveries", () => hook.bodies.length === 4, 60_000);
    const decoder = new TextDecoder();
    const source = e.config.sources[0]!;
    const hl7App = e.config.destinations.find((d) => d.id === "hl7app");
    for (const body of [small, large]) {
      const text = decoder.decode(body);
      const json = JSON.parse(text);
      const id = json.Patient.Identifiers[0].ID;
      const got = hook.bodies.filter((b) => b.text.includes(id));
      assert.deepEqual(got.map((b) => b.path).sort(), ["/hl7", "/json"], id);
      // The JSON destination gets the body as posted; the HL7 one what the engine's thread writes.
      assert.equal(got.find((b) => b.path === "/json")!.text, text, id);
      const checked = validateDataModel(json, { maxEmbeddedFileBytes: 40_000_000 });
      assert.ok(checked.ok);
      const hl7 = jsonToHl7(json, {
        timeZone: "UTC",
        maxEmbeddedFileBytes: 40_000_000,
        validated: checked,
        ...mshOptions(json.Meta, source, hl7App),
      });
      // MSH-10 (the control id) is new each time a message is written.
      const sent = got.find((b) => b.path === "/hl7")!.text;
      assert.equal(withoutControlId(sent), withoutControlId(hl7), id);
      assert.equal(sent.length, hl7.length, id);
    }
    // The logs of each message, once delivered: the same but for ids and times.
    await waitFor("4 SEND logs SUCCEEDED", async () => {
      const sent = await listLogs(e.engine.store.kv, { type: "SEND", status: "SUCCEEDED" });
      return sent.logs.length === 4;
    }, 60_000);
    const { logs } = await listLogs(e.engine.store.kv, { limit: 100 });
    const shape = (messageId: string) =>
      logs.filter((l) => l.messageId === messageId).map((l) => ({
        type: l.type,
        status: l.status,
        sourceId: l.sourceId,
        destinationId: l.destinationId,
        dataModel: l.dataModel,
        eventType: l.eventType,
        environment: l.environment,
        translated: l.deliveredId !== undefined,
        reason: l.reason,
      })).sort((a, b) =>
        `${a.type}${a.destinationId}`.localeCompare(`${b.type}${b.destinationId}`)
      );
    const messageIds = answers.map((a) => (a.Meta as { Message: { ID: string } }).Message.ID);
    assert.equal(shape(messageIds[0]!).length, 3);
    assert.deepEqual(shape(messageIds[1]!), shape(messageIds[0]!));
  } finally {
    await e.close();
    await hook.server.shutdown();
  }
});

Deno.test("a planning thread that fails on a large JSON body fails that request alone with 500 and the reason, and the next body gets a new thread; with no thread to be had (its module missing), large bodies are taken on the engine's thread as before", async () => {
  await using dir = await tempDir({ prefix: "large-json-failures-" });
  await Deno.mkdir(`${dir.path}/a`);
  await Deno.mkdir(`${dir.path}/b`);
  const hook = startHook();
  const failing = await startEngine(largeJsonConfig(`${dir.path}/a`, hook.port, 1_000_000), {
    http: true,
    planThreads: { module: new URL("./failing_plan_thread.ts", import.meta.url) },
  });
  const missing = await startEngine(largeJsonConfig(`${dir.path}/b`, hook.port, 1_000_000), {
    http: true,
    planThreads: { module: new URL("./no_such_plan_thread.ts", import.meta.url) },
  });
  const body = (fileName: string) => {
    const m = mediaMessage(100_000);
    (m.Media as Record<string, unknown>).FileName = fileName;
    return new TextEncoder().encode(JSON.stringify(m));
  };
  try {
    const token = await apiOf(failing).token("clinic", "clinic-secret");
    const crashed = await post(failing, token, body("CRASH-ON-API-JSON"));
    assert.equal(crashed.status, 500, crashed.text);
    assert.match(
      JSON.parse(crashed.text).Meta.Errors[0].Text,
      /^could not parse or translate the message: the planning thread failed: .*crashed on purpose/,
    );
    // A job that throws is answered as the inbox throwing on the engine's thread is.
    const threw = await post(failing, token, body("THROW-ON-API-JSON"));
    assert.equal(threw.status, 500, threw.text);
    assert.equal(
      threw.text,
      JSON.stringify({
        Meta: { Errors: [{ Text: "the message could not be stored: try again" }] },
      }),
    );
    const next = await post(failing, token, body("scan"));
    assert.equal(next.status, 200, next.text);
    assert.equal(
      failing.log.lines.filter((l) => l.includes("engine.plan-thread-failed")).length,
      1,
    );

    const fallback = await post(
      missing,
      await apiOf(missing).token("clinic", "clinic-secret"),
      body("scan"),
    );
    assert.equal(fallback.status, 200, fallback.text);
    assert.ok(missing.log.lines.some((l) => l.includes("engine.plan-thread-unavailable")));
  } finally {
    await failing.close();
    await missing.close();
    await hook.server.shutdown();
  }
});
