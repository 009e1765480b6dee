/**
 * `POST /endpoint` with an order that carries only its filler order number (`ApplicationOrderID`),
 * in a Results and in an Order message: accepted and delivered to an MLLP destination with the
 * filler number set and the placer number empty. An order with neither is refused with a 400
 * that names both.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { type Hl7Message, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

/**
 * Runs an engine whose API source `ehr` sends to an MLLP destination recording what it gets;
 * gives `fn` a poster of data-model JSON, and the HL7 received.
 */
async function withApiToMllp(
  fn: (post: (body: unknown) => Promise<Response>, received: string[]) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir({ prefix: "api-filler-number-" });
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
    await fn(
      (body) =>
        fetch(`${api.base}/endpoint`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      received,
    );
  } finally {
    await e.close();
    await server.stop({ forceDrainTimeoutMs: 100 });
  }
}

/**
 * Posts `withNeither` (refused naming `refusal` at `path`), then `withFiller` (accepted); returns
 * the one message delivered.
 */
async function refusedThenDelivered(
  post: (body: unknown) => Promise<Response>,
  received: string[],
  cases: { withNeither: unknown; path: string; refusal: string; withFiller: unknown },
): Promise<Hl7Message> {
  const neither = await post(cases.withNeither);
  assert.equal(neither.status, 400);
  assert.deepEqual((await neither.json()).Meta.Errors, [{ Text: cases.refusal, Path: cases.path }]);
  const ok = await post(cases.withFiller);
  assert.equal(ok.status, 200, JSON.stringify(await ok.clone().json()));
  await ok.body?.cancel();
  await waitFor("delivered over MLLP", () => received.length >= 1);
  assert.equal(received.length, 1, "the refused order was not delivered");
  return parseHl7(received[0]!);
}

Deno.test("POST /endpoint: a Results order with only ApplicationOrderID reaches MLLP as OBR-3", async () => {
  const message = (order: Record<string, unknown>) => ({
    Meta: { DataModel: "Results", EventType: "New" },
    Patient: { Identifiers: [{ ID: "MRN1", IDType: "MR" }] },
    Orders: [{ ...order, Results: [{ Code: "WBC", Value: "7.1", Status: "Final" }] }],
  });
  await withApiToMllp(async (post, received) => {
    const hl7 = await refusedThenDelivered(post, received, {
      withNeither: message({}),
      path: "Orders[0]",
      refusal:
        "needs ID (OBR-2, placer order number) or ApplicationOrderID (OBR-3, filler order number)",
      withFiller: message({ ApplicationOrderID: "FILL-77" }),
    });
    assert.equal(hl7.get("MSH-9.1"), "ORU");
    assert.equal(hl7.get("OBR-2") ?? "", "");
    assert.equal(hl7.get("OBR-3"), "FILL-77");
    assert.equal(hl7.get("ORC-2") ?? "", "");
  });
});

Deno.test("POST /endpoint: an Order with only ApplicationOrderID reaches MLLP as ORC-3", async () => {
  const message = (order: Record<string, unknown>) => ({
    Meta: { DataModel: "Order", EventType: "New" },
    Patient: { Identifiers: [{ ID: "MRN1", IDType: "MR" }] },
    Order: { ...order, Procedure: { Code: "CBC", Description: "Complete blood count" } },
  });
  await withApiToMllp(async (post, received) => {
    const hl7 = await refusedThenDelivered(post, received, {
      withNeither: message({}),
      path: "Order",
      refusal:
        "needs ID (ORC-2, placer order number) or ApplicationOrderID (ORC-3, filler order number)",
      withFiller: message({ ApplicationOrderID: "FILL-77" }),
    });
    assert.equal(hl7.get("MSH-9.1"), "ORM");
    assert.equal(hl7.get("ORC-1"), "NW");
    assert.equal(hl7.get("ORC-2") ?? "", "");
    assert.equal(hl7.get("ORC-3"), "FILL-77");
    assert.equal(hl7.get("OBR-3"), "FILL-77");
  });
});
