/**
 * `POST /endpoint` with an Order message whose order carries only its filler order number
 * (`Order.ApplicationOrderID`): accepted and delivered to an MLLP destination with ORC-3 set and
 * ORC-2 empty. An order with neither number is refused with a 400 that names both.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("POST /endpoint: an Order with only ApplicationOrderID reaches MLLP as ORC-3", async () => {
  await using dir = await tempDir({ prefix: "api-order-filler-" });
  const { received, server, port } = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "ehr",
      environment: "dev",
      clientId: "ehr-client",
      auth: { secret: { env: "EHR_SECRET" } },
    }],
    destinations: [{ id: "lab", environment: "dev", mllp: { host: "127.0.0.1", port } }],
    subscriptions: [{ from: { source: "ehr" }, to: ["lab"] }],
  }, {
    env: (n) => ({ EHR_SECRET: "ehr-s3cret" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("ehr-client", "ehr-s3cret");
    const post = (body: unknown) =>
      fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const message = (order: Record<string, unknown>) => ({
      Meta: { DataModel: "Order", EventType: "New" },
      Patient: { Identifiers: [{ ID: "MRN1", IDType: "MR" }] },
      Order: { ...order, Procedure: { Code: "CBC", Description: "Complete blood count" } },
    });

    const neither = await post(message({}));
    assert.equal(neither.status, 400);
    const refusal = await neither.json();
    assert.deepEqual(refusal.Meta.Errors, [{
      Text:
        "needs ID (ORC-2, placer order number) or ApplicationOrderID (ORC-3, filler order number)",
      Path: "Order",
    }]);

    const ok = await post(message({ ApplicationOrderID: "FILL-77" }));
    assert.equal(ok.status, 200, JSON.stringify(await ok.clone().json()));
    await ok.body?.cancel();
    await waitFor("delivered over MLLP", () => received.length >= 1);
    const hl7 = parseHl7(received[0]!);
    assert.equal(hl7.get("MSH-9.1"), "ORM");
    assert.equal(hl7.get("ORC-1"), "NW");
    assert.equal(hl7.get("ORC-2") ?? "", "");
    assert.equal(hl7.get("ORC-3"), "FILL-77");
    assert.equal(hl7.get("OBR-3"), "FILL-77");
    assert.equal(received.length, 1, "the refused order was not delivered");
  } finally {
    await e.close();
    await server.stop({ forceDrainTimeoutMs: 100 });
  }
});
