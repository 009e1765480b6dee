/**
 * `POST /endpoint` with a Results message whose order carries only its filler order number
 * (`ApplicationOrderID`): accepted and delivered to an MLLP destination with OBR-3 set and
 * OBR-2 empty. An order with neither number is refused with a 400 that names both.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("POST /endpoint: a Results order with only ApplicationOrderID reaches MLLP as OBR-3", async () => {
  await using dir = await tempDir({ prefix: "api-filler-order-" });
  const { received, server, port } = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "lab",
      environment: "dev",
      clientId: "lab-client",
      auth: { secret: { env: "LAB_SECRET" } },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port } }],
    subscriptions: [{ from: { source: "lab" }, to: ["ehr"] }],
  }, {
    env: (n) => ({ LAB_SECRET: "lab-s3cret" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("lab-client", "lab-s3cret");
    const post = (body: unknown) =>
      fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const message = (order: Record<string, unknown>) => ({
      Meta: { DataModel: "Results", EventType: "New" },
      Patient: { Identifiers: [{ ID: "MRN1", IDType: "MR" }] },
      Orders: [{ ...order, Results: [{ Code: "WBC", Value: "7.1", Status: "Final" }] }],
    });

    const neither = await post(message({}));
    assert.equal(neither.status, 400);
    const refusal = await neither.json();
    assert.deepEqual(refusal.Meta.Errors, [{
      Text:
        "needs ID (OBR-2, placer order number) or ApplicationOrderID (OBR-3, filler order number)",
      Path: "Orders[0]",
    }]);

    const ok = await post(message({ ApplicationOrderID: "FILL-77" }));
    assert.equal(ok.status, 200, JSON.stringify(await ok.clone().json()));
    await ok.body?.cancel();
    await waitFor("delivered over MLLP", () => received.length >= 1);
    const hl7 = parseHl7(received[0]!);
    assert.equal(hl7.get("MSH-9.1"), "ORU");
    assert.equal(hl7.get("OBR-2") ?? "", "");
    assert.equal(hl7.get("OBR-3"), "FILL-77");
    assert.equal(hl7.get("ORC-2") ?? "", "");
  } finally {
    await e.close();
    await server.stop({ forceDrainTimeoutMs: 100 });
  }
});
