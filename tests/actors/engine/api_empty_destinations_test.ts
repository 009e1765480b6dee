/**
 * `POST /endpoint` with `"Meta": {"Destinations": []}` from a source that has subscriptions: the
 * message is stored and answered `200` with no logs, and its RECEIVE log is FILTERED with a
 * reason in the sender's terms (it addressed no destination), not "no subscription wants this
 * message", which stays the reason when no subscription takes the message. Real engine, token
 * and HTTP; the destination (an MLLP peer) must get nothing.
 */

import assert from "node:assert/strict";
import { hl7ToJson } from "../../../codecs/datamodel/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { adt, startRecordingHl7Server } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("POST /endpoint with Meta.Destinations [] is FILTERED because the sender addressed no destination", async () => {
  await using dir = await tempDir({ prefix: "api-empty-destinations-" });
  const { received, server: hl7Server, port } = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "app",
      environment: "dev",
      clientId: "app-client",
      auth: { secret: { env: "APP_SECRET" } },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port } }],
    // Only arrivals are subscribed to: a discharge is wanted by no one.
    subscriptions: [{ from: { source: "app" }, to: ["ehr"], eventTypes: ["Arrival"] }],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app-client", "app-s3cret");
    const message = hl7ToJson(adt("EMPTY1"), { timeZone: "UTC", extensions: false }) as {
      Meta: Record<string, unknown>;
    };
    /** Posts `body`; the answer and the RECEIVE log of the message it names. */
    const post = async (body: unknown) => {
      const res = await fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await res.json();
      assert.equal(res.status, 200, JSON.stringify(answer));
      const record = await e.engine.store.getMessage(answer.Meta.Message.ID);
      assert.ok(record?.receiveLogId);
      return { answer, receive: await e.engine.store.getLog(record.receiveLogId) };
    };

    const empty = await post({ ...message, Meta: { ...message.Meta, Destinations: [] } });
    assert.deepEqual(empty.answer.Meta.Logs, []);
    assert.deepEqual(empty.answer.Meta.Destinations, []);
    assert.equal(empty.receive?.status, "FILTERED");
    assert.equal(
      empty.receive?.reason,
      "Meta.Destinations is empty: the sender addressed no destination",
    );

    // A message no subscription takes keeps the reason that says so.
    const unwanted = await post({ ...message, Meta: { ...message.Meta, EventType: "Discharge" } });
    assert.equal(unwanted.receive?.status, "FILTERED");
    assert.equal(unwanted.receive?.reason, "no subscription wants this message");

    // The same message without Meta.Destinations goes to the subscribed destination: the
    // subscription was there all along, and the empty list alone kept it back.
    const sent = await post(message);
    assert.equal(sent.receive?.status, "SUCCEEDED");
    assert.equal(sent.answer.Meta.Logs.length, 1);
    const log = await e.engine.store.getLog(sent.answer.Meta.Logs[0].ID);
    assert.equal(log?.destinationId, "ehr");
  } finally {
    await e.close();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
  }
  assert.ok(received.length <= 1, "only the message without Destinations may reach ehr");
});
