/**
 * The FHIR API end to end: a token from `POST /v2/auth/token`, then a FHIR message Bundle to
 * `POST /fhir/R4/$process-message` (and `/fhir/R4/Bundle`): validated, converted, stored and
 * delivered as HL7 v2 to an MLLP destination (an `Hl7Server`); refusals are OperationOutcomes
 * located by FHIRPath.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { hl7ToFhir, V2_EVENT_SYSTEM } from "../../../codecs/fhir/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { adt, startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("POST /fhir/R4/$process-message: a message bundle reaches an Hl7Server as HL7 v2; refusals are OperationOutcomes", async () => {
  await using dir = await tempDir({ prefix: "fhir-" });
  const { received: hl7Received, server: hl7Server, port: mllpPort } =
    await startRecordingHl7Server();
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
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: mllpPort } }],
    subscriptions: [{ from: { source: "app" }, to: ["ehr"] }],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const config = parsed.config;
  const httpSender = new FetchSender();
  const e = await startEngine(config, { httpSender, http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app-client", "app-s3cret");
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${api.base}/fhir/R4/${path}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/fhir+json",
          ...headers,
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    const outcome = async (r: Response) => {
      assert.equal(r.headers.get("content-type"), "application/fhir+json");
      const b = await r.json();
      assert.equal(b.resourceType, "OperationOutcome");
      return b as { issue: { severity: string; diagnostics: string; expression?: string[] }[] };
    };

    // Refusals, in the order /endpoint checks them.
    const noToken = await post("$process-message", "{}", { authorization: "" });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.headers.get("www-authenticate"), "Bearer");
    await outcome(noToken);
    const xml = await post("$process-message", "<Bundle/>", { "content-type": "application/xml" });
    assert.equal(xml.status, 415);
    await outcome(xml);
    const get = await fetch(`${api.base}/fhir/R4/Bundle`);
    assert.equal(get.status, 405);
    await get.body?.cancel();

    // R4 validation: located by FHIRPath.
    const bundle = hl7ToFhir(adt("FHIR1"), { timeZone: "UTC" });
    const broken = structuredClone(bundle);
    (broken.entry?.[1]?.resource as Record<string, unknown>).birthDate = "1980-13-45";
    const invalid = await post("$process-message", broken);
    assert.equal(invalid.status, 400);
    const why = await outcome(invalid);
    assert.ok(
      why.issue.some((i) => i.expression?.[0] === "Bundle.entry[1].resource.birthDate"),
      JSON.stringify(why),
    );
    const collection = await post("Bundle", { ...bundle, type: "collection" });
    assert.equal(collection.status, 400);
    assert.ok((await outcome(collection)).issue.some((i) => i.expression?.[0] === "Bundle.type"));

    // A data-model problem (no patient identifier) is located in the bundle too.
    const noId = await post("Bundle", {
      resourceType: "Bundle",
      type: "message",
      entry: [
        {
          fullUrl: "urn:uuid:0c3a3c1e-0000-4000-8000-000000000001",
          resource: {
            resourceType: "MessageHeader",
            eventCoding: { system: V2_EVENT_SYSTEM, code: "A28" },
            source: { endpoint: "https://app.example.org" },
          },
        },
        {
          fullUrl: "urn:uuid:0c3a3c1e-0000-4000-8000-000000000002",
          resource: { resourceType: "Patient", name: [{ family: "NOID" }] },
        },
      ],
    });
    assert.equal(noId.status, 400);
    const noIdWhy = await outcome(noId);
    assert.ok(
      noIdWhy.issue.some((i) => i.expression?.[0] === "Bundle.entry[1].resource.identifier"),
      JSON.stringify(noIdWhy),
    );

    // Accepted: stored, then delivered as HL7 v2.
    const ok = await post("$process-message", bundle);
    assert.equal(ok.status, 200, JSON.stringify(await ok.clone().json()));
    const accepted = await outcome(ok);
    assert.equal(accepted.issue[0]?.severity, "information");
    assert.equal(hl7Received.length, 0, "nothing delivered before the accepted message");
    await waitFor("delivered", () => hl7Received.length >= 1);
    const hl7 = hl7Received[0]!;
    assert.match(hl7, /ADT\^A01/);
    assert.match(hl7, /PID\|[^\r]*DOE\^JANE/);
    assert.match(hl7, /MSH\|[^\r]*\|FHIR1\|/, "the control id travels through FHIR");
  } finally {
    await e.close();
    httpSender.close();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
  }
});
