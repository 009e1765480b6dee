/**
 * The JSON API end to end: a client-secret token from `POST /v2/auth/token`, then a data-model
 * message to `POST /endpoint`, stored and answered with one log per destination, delivered as
 * JSON to an HTTPS destination and as HL7 v2 to an MLLP destination (an `Hl7Server`).
 */

import assert from "node:assert/strict";
import { hl7ToJson } from "../../../codecs/datamodel/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { adt, startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("token, then POST /endpoint: stored, answered with its logs, delivered as JSON and as HL7", async () => {
  await using dir = await tempDir({ prefix: "api-end-to-end-" });
  const { received: hl7Received, server: hl7Server, port: mllpPort } =
    await startRecordingHl7Server();
  const jsonReceived: Record<string, unknown>[] = [];
  const receiver = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (r) => {
    jsonReceived.push(await r.json());
    return new Response("ok");
  });
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }, { id: "prod", type: "production" }],
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
  const config = parsed.config;
  const httpSender = new FetchSender();
  const e = await startEngine(config, { httpSender, http: true });
  const { engine } = e;
  const api = apiOf(e);
  const base = api.base;
  try {
    const token = await api.token("app-client", "app-s3cret");
    const message = hl7ToJson(adt("API1"), { timeZone: "UTC", extensions: false });
    const post = (body: unknown, bearer = token) =>
      fetch(`${base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    const bad = await post({ ...message, Patient: { Demographics: { DOB: "yesterday" } } });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(await bad.json()), /Patient\.Demographics\.DOB/);
    const unknown = await post({
      ...message,
      Meta: { ...message.Meta, Destinations: [{ ID: "x" }] },
    });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    assert.equal((await post(message, "not-a-token")).status, 401);

    const ok = await post(message);
    assert.equal(ok.status, 200);
    const answer = await ok.json();
    assert.equal(answer.Meta.Logs.length, 2);
    assert.deepEqual(answer.Meta.Destinations.map((d: { ID: string }) => d.ID).sort(), [
      "ehr",
      "hook",
    ]);
    const logs = await Promise.all(
      answer.Meta.Logs.map((l: { ID: string }) => engine.store.getLog(l.ID)),
    );
    assert.ok(logs.every((l) => l?.type === "SEND" && l.dataModel === "PatientAdmin"));

    await waitFor("delivered to both", () => hl7Received.length >= 1 && jsonReceived.length >= 1);
    const hl7 = hl7Received[0]!;
    assert.match(hl7, /^MSH\|\^~\\&\|/);
    assert.match(hl7, /ADT\^A01/);
    assert.match(hl7, /PID\|[^\r]*DOE\^JANE/);
    const json = jsonReceived[0] as { Meta: { DataModel: string }; Patient: unknown };
    assert.equal(json.Meta.DataModel, "PatientAdmin");
    assert.deepEqual(json.Patient, message.Patient);
    await waitFor("SEND logs succeeded", async () => {
      const now = await Promise.all(
        answer.Meta.Logs.map((l: { ID: string }) => engine.store.getLog(l.ID)),
      );
      return now.every((l) => l?.status === "SUCCEEDED");
    });
  } finally {
    await e.close();
    httpSender.close();
    await receiver.shutdown();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
  }
});
