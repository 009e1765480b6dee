/**
 * A message posted to `POST /endpoint` is stored with its routes and its translations in one
 * commit, and reaches each destination's actor in memory, as a message routed at MLLP intake
 * does: the HL7 written for an MLLP destination and the JSON for an HTTPS one go out without
 * their actors reading the entries back from KV. A real engine and API, a real `@medplum/hl7`
 * receiver and a real HTTP receiver on loopback.
 */

import assert from "node:assert/strict";
import { hl7ToJson } from "../../../codecs/datamodel/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { adt, startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { keys } from "../../../actors/store/mod.ts";
import { REDOX_FIXTURES } from "./redox_fixtures.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("a message posted to the API is handed to its destinations' actors with its HL7 translation, which they send without reading back from KV", async () => {
  await using dir = await tempDir({ prefix: "api-hand-over-" });
  const { received: hl7Received, server: hl7Server, port: mllpPort } =
    await startRecordingHl7Server();
  const jsonReceived: string[] = [];
  const receiver = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (r) => {
    const body = await r.json() as { Meta: { Message?: { ID?: string } }; Visit?: unknown };
    jsonReceived.push(JSON.stringify(body));
    return new Response("ok");
  });
  const parsed = parseConfig({
    node: { id: "api-hand-over" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "app",
      environment: "dev",
      clientId: "app-client",
      auth: { secret: { env: "APP_SECRET" } },
    }],
    destinations: [
      { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: mllpPort } },
      {
        id: "hook",
        environment: "dev",
        https: {
          url: `http://127.0.0.1:${receiver.addr.port}/in`,
          verificationToken: { env: "HOOK_TOKEN" },
        },
      },
    ],
    subscriptions: [{ from: { source: "app" }, to: ["ehr", "hook"] }],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret", HOOK_TOKEN: "hook-token" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const httpSender = new FetchSender();
  const e = await startEngine(parsed.config, { httpSender, http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app-client", "app-s3cret");
    const post = async (id: string) => {
      const message = hl7ToJson(adt(id), { timeZone: "UTC", extensions: false });
      const res = await fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(message),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const answer = await res.json() as { Meta: { Message: { ID: string } } };
      await waitFor(
        `${id} delivered to both`,
        () =>
          hl7Received.some((m) => m.includes(`\rPID|1||${id}^`)) &&
          jsonReceived.some((m) => m.includes(`"ID":"${id}"`)),
      );
      return answer.Meta.Message.ID;
    };
    // The first one activates both destination actors, which read their queues from KV.
    await post("P0");
    const store = e.engine.store;
    // What is handed over carries its payload (without it, an MLLP socket cannot send ahead).
    const handed: { queue: string; payload?: string }[] = [];
    const supervisor = e.engine.supervisor;
    const handOver = supervisor.handOver.bind(supervisor);
    supervisor.handOver = (id, items) => {
      for (const i of items) {
        handed.push({
          queue: id,
          ...(i.payload ? { payload: new TextDecoder().decode(i.payload) } : {}),
        });
      }
      handOver(id, items);
    };
    const readBacks: string[] = [];
    const peek = store.peek.bind(store);
    store.peek = (queue, limit, after) => {
      if (after !== undefined) readBacks.push(queue);
      return peek(queue, limit, after);
    };
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await post(`P${i}`));
    assert.deepEqual(readBacks, [], "a destination's actor read routed entries back from KV");
    assert.equal(handed.length, 10);
    for (const h of handed) {
      assert.match(
        h.payload ?? "",
        h.queue.startsWith("mllp-out:") ? /^MSH\|/ : /^\{"Meta"/,
        h.queue,
      );
    }
    // What went out, in order: HL7 written from the JSON to the MLLP destination, the JSON itself
    // to the HTTPS one.
    // Each message is told by its patient's identifier (the control ids are made by the engine).
    const order = (texts: string[], id: RegExp) => texts.map((t) => id.exec(t)?.[1]);
    const all = ["P0", "P1", "P2", "P3", "P4", "P5"];
    assert.deepEqual(order(hl7Received, /\rPID\|1\|\|(P\d)\^/), all);
    assert.deepEqual(order(jsonReceived, /"ID":"(P\d)"/), all);
    for (const m of hl7Received) assert.match(m, /^MSH\|\^~\\&\|[^\r]*ADT\^A01/);
    // The translation is stored, named by the SEND log that sent it, derived from the original.
    for (const id of ids) {
      const logs = await store.logsOfMessage(id);
      const ehr = logs.find((l) => l.type === "SEND" && l.destinationId === "ehr");
      assert.ok(ehr?.deliveredId, "the MLLP destination's log names the translation it sent");
      const translation = await store.getMessage(ehr.deliveredId);
      assert.equal(translation?.derivedFrom, id);
      assert.equal(translation?.contentType, "application/hl7-v2");
    }
  } finally {
    await e.close();
    httpSender.close();
    await receiver.shutdown();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
  }
});

Deno.test("a large message posted to the API reaches its MLLP destination whole and in order: its HL7 is written in chunks before the accept commit and read back by the actor", async () => {
  await using dir = await tempDir({ prefix: "api-hand-over-" });
  const { received, server: hl7Server, port: mllpPort } = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "api-large" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "app",
      environment: "dev",
      clientId: "app-client",
      auth: { secret: { env: "APP_SECRET" } },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: mllpPort } }],
    subscriptions: [{ from: { source: "app" }, to: ["ehr"] }],
  }, { env: (n) => ({ APP_SECRET: "app-s3cret" })[n], readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app-client", "app-s3cret");
    const media = REDOX_FIXTURES.find((f) => f.name === "Media.New")!.json as {
      Meta: Record<string, unknown>;
      Media: Record<string, unknown>;
    };
    // A 300 KB document: its HL7 passes the 48 KiB kept in a record and the 64 KiB an actor holds.
    const pdf = btoa("%PDF-1.4 ".padEnd(300 * 1024, "x"));
    const post = async (name: string, contents: string) => {
      // Routed by the source's subscription (the fixture names Redox's destination).
      const body = {
        ...media,
        Meta: { ...media.Meta, Destinations: undefined },
        Media: { ...media.Media, FileName: name, FileContents: contents },
      };
      const res = await fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json() as { Meta: { Message: { ID: string } } }).Meta.Message.ID;
    };
    const first = btoa("%PDF-1.4 first\n");
    const after = btoa("%PDF-1.4 after\n");
    await post("first", first);
    const id = await post("large", pdf);
    await post("after", after);
    await waitFor("three delivered", () => received.length === 3);
    // In order, and the large one whole (OBX-5.5 carries the document as posted).
    const which = (m: string) =>
      m.includes(pdf) ? "large" : m.includes(first) ? "first" : m.includes(after) ? "after" : "?";
    assert.deepEqual(received.map(which), ["first", "large", "after"]);
    const store = e.engine.store;
    const [send] = (await store.logsOfMessage(id)).filter((l) => l.type === "SEND");
    const translation = await store.getMessage(send!.deliveredId!);
    assert.ok((translation?.chunks ?? 0) > 0, "the translation is stored in chunks");
    assert.equal((await store.kv.get(keys.chunkPending(translation!.id))).value, null);
  } finally {
    await e.close();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
  }
});
