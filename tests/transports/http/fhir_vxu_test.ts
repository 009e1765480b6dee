/**
 * A FHIR VXU^V04 message bundle posted to `POST /fhir/R4/$process-message` (no data model maps
 * an immunization): checked, stored, then delivered as the VXU^V04 `fhirToVxu` writes to an MLLP
 * destination (an `Hl7Server`) and as the bundle to a FHIR server (`format: "fhir"`, SMART
 * Backend Services), with the same token as other posts; a V04 bundle that cannot be written as
 * a VXU is a 400 OperationOutcome located by FHIRPath, and nothing is stored for it.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { fhirToVxu, vxuToFhir } from "../../../codecs/fhir/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { VXU_V04 } from "../../codecs/fhir/vxu_fixture.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine } from "../../helpers/engine.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { makePki } from "../../helpers/tls.ts";
import { SMART_CLIENT_ID, SMART_SCOPE, startFhirServer } from "../../actors/engine/fhir_server.ts";
import { tempDir } from "../../helpers/temp.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

Deno.test("POST /fhir/R4/$process-message: a V04 bundle reaches an Hl7Server as VXU^V04 and a FHIR server as the bundle; unwritable V04 bundles are 400s located by FHIRPath", async () => {
  await using dir = await tempDir({ prefix: "fhir-vxu-" });
  const { received: hl7Received, server: hl7Server, port: mllpPort } =
    await startRecordingHl7Server();
  const fhir = await startFhirServer(pki, {});
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
    destinations: [
      { id: "iis", environment: "dev", mllp: { host: "127.0.0.1", port: mllpPort } },
      {
        id: "fhir",
        environment: "dev",
        https: {
          url: fhir.base,
          verificationToken: { env: "VT" },
          fhir: {},
          auth: {
            type: "smart-backend",
            tokenUrl: fhir.tokenUrl,
            clientId: SMART_CLIENT_ID,
            privateKey: { env: "FHIR_KEY" },
            keyId: fhir.keyId,
            algorithm: "ES384",
            scope: SMART_SCOPE,
          },
        },
      },
    ],
    subscriptions: [
      { from: { source: "app" }, to: ["iis"], eventTypes: ["V04"] },
      { from: { source: "app" }, to: ["fhir"], format: "fhir" },
    ],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret", VT: "vt-secret", FHIR_KEY: fhir.privateKey })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const httpSender = new FetchSender({ caCerts: [pki.caCert] });
  const e = await startEngine(parsed.config, { httpSender, http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app-client", "app-s3cret");
    const post = (body: unknown) =>
      fetch(`${api.base}/fhir/R4/$process-message`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/fhir+json" },
        body: JSON.stringify(body),
      });
    const outcome = async (r: Response) => {
      assert.equal(r.headers.get("content-type"), "application/fhir+json");
      const b = await r.json();
      assert.equal(b.resourceType, "OperationOutcome");
      return b as { issue: { severity: string; diagnostics: string; expression?: string[] }[] };
    };
    const bundle = vxuToFhir(VXU_V04, { timeZone: "UTC" });

    // A V04 without an Immunization cannot be a VXU: located, and nothing stored.
    const noImm = await post({
      ...bundle,
      entry: bundle.entry?.filter((x) => x.resource?.resourceType !== "Immunization"),
    });
    assert.equal(noImm.status, 400);
    const why = await outcome(noImm);
    assert.ok(why.issue.some((i) => i.expression?.[0] === "Bundle.entry"), JSON.stringify(why));
    // A Patient without identifier: the data model's PID problem, located on the Patient.
    const noId = structuredClone(bundle);
    delete (noId.entry?.[1]?.resource as Record<string, unknown>).identifier;
    const noIdAnswer = await post(noId);
    assert.equal(noIdAnswer.status, 400);
    const noIdWhy = await outcome(noIdAnswer);
    assert.ok(
      noIdWhy.issue.some((i) => i.expression?.[0] === "Bundle.entry[1].resource.identifier"),
      JSON.stringify(noIdWhy),
    );
    // R4 validation comes first for V04 bundles too.
    const bad = structuredClone(bundle);
    (bad.entry?.[2]?.resource as Record<string, unknown>).expirationDate = "2013-13-45";
    const badAnswer = await post(bad);
    assert.equal(badAnswer.status, 400);
    assert.ok(
      (await outcome(badAnswer)).issue.some((i) =>
        i.expression?.[0] === "Bundle.entry[2].resource.expirationDate"
      ),
    );
    assert.equal((await listLogs(e.engine.store.kv, { type: "RECEIVE" })).logs.length, 0);

    // Accepted: stored, then delivered.
    const ok = await post(bundle);
    assert.equal(ok.status, 200, JSON.stringify(await ok.clone().json()));
    const accepted = await outcome(ok);
    assert.equal(accepted.issue[0]?.severity, "information");
    assert.match(
      accepted.issue[0]?.diagnostics ?? "",
      /"ID":"iis".*"ID":"fhir"|"ID":"fhir".*"ID":"iis"/,
    );
    const received = await listLogs(e.engine.store.kv, { type: "RECEIVE" });
    assert.equal(received.logs.length, 1, "stored before the answer");
    await waitFor("the VXU over MLLP", () => hl7Received.length >= 1);
    const vxu = parseHl7(hl7Received[0]!);
    assert.equal(vxu.get("MSH-9"), "VXU^V04^VXU_V04");
    assert.equal(hl7Received[0]!.replaceAll("\n", "\r"), fhirToVxu(bundle, { timeZone: "UTC" }));
    assert.equal(vxu.get("RXA-5"), "48^HIB PRP-T^CVX");
    assert.equal(vxu.get("PID-3.1"), "432155");
    await e.engine.https!.verify("fhir");
    await waitFor("the bundle at the FHIR server", () => fhir.messages.length >= 1);
    assert.deepEqual(fhir.messages[0], JSON.parse(JSON.stringify(bundle)));
    await waitFor("both SEND logs succeeded", async () => {
      const { logs } = await listLogs(e.engine.store.kv, { type: "SEND" });
      return logs.length === 2 && logs.every((l) => l.status === "SUCCEEDED");
    });
  } finally {
    await e.close();
    httpSender.close();
    await fhir.close();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
  }
});
