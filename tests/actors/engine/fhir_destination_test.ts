/**
 * End to end to a FHIR server: HL7 v2 ADT and ORU over MLLP (a real `@medplum/hl7` client) in,
 * the engine, and out over HTTPS to a FHIR R4 server peer (fhir_server.ts) behind SMART Backend
 * Services — as message bundles to `$process-message`, or as transaction bundles to the base.
 * The peer validates every bundle with `@medplum/core`; its OperationOutcome refusals land in the
 * attempt's reason. Subscriptions with `format: "fhir"` keep the integration off the intake path.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { routesWithoutApplicationStep } from "../../../actors/engine/hl7_routing.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import type { LogRecord } from "../../../actors/store/types.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { ORU_R01 } from "../../codecs/datamodel/fixtures.ts";
import { VXU_V04 } from "../../codecs/fhir/vxu_fixture.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { makePki } from "../../helpers/tls.ts";
import { type FhirServer, SMART_CLIENT_ID, SMART_SCOPE, startFhirServer } from "./fhir_server.ts";
import { tempDir } from "../../helpers/temp.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

/** A production config: one MLLP feed, FHIR destinations on `server` with SMART credentials. */
function fhirConfig(
  dir: string,
  server: FhirServer,
  destinations: { id: string; bundle?: "message" | "transaction"; format?: "fhir" }[],
): Config {
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    environments: [{ id: "prod", type: "production" }],
    integrations: [{
      id: "hospital",
      environment: "prod",
      timeZone: "America/Chicago",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: destinations.map((d) => ({
      id: d.id,
      environment: "prod",
      https: {
        url: server.base,
        verificationToken: { env: "VT" },
        fhir: d.bundle ? { bundle: d.bundle } : {},
        auth: {
          type: "smart-backend",
          tokenUrl: server.tokenUrl,
          clientId: SMART_CLIENT_ID,
          privateKey: { env: "FHIR_KEY" },
          keyId: server.keyId,
          algorithm: "ES384",
          scope: SMART_SCOPE,
        },
      },
    })),
    subscriptions: destinations.map((d) => ({
      from: { integration: "hospital" },
      to: [d.id],
      ...(d.format ? { format: d.format } : {}),
    })),
  }, {
    env: (n) => n === "VT" ? "vt-secret" : n === "FHIR_KEY" ? server.privateKey : undefined,
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

/** Runs `body` with a FHIR server peer, an engine on `config(server)` and an MLLP client. */
async function withFhirEngine(
  peer: { refuseIdentifier?: string },
  config: (dir: string, server: FhirServer) => Config,
  body: (e: TestEngine, server: FhirServer, client: Hl7Client) => Promise<void>,
  http = false,
): Promise<void> {
  await using dir = await tempDir({ prefix: "fhir-destination-" });
  const server = await startFhirServer(pki, peer);
  const httpSender = new FetchSender({ caCerts: [pki.caCert] });
  const e = await startEngine(config(dir.path, server), { httpSender, http });
  const client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  try {
    await body(e, server, client);
  } finally {
    await client.close();
    await e.close();
    httpSender.close();
    await server.close();
  }
}

async function send(client: Hl7Client, text: string): Promise<void> {
  const ack = await client.sendAndWait(Hl7Message.parse(text));
  assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA");
}

async function sendLogs(e: TestEngine, destinationId: string): Promise<LogRecord[]> {
  const { logs } = await listLogs(e.engine.store.kv, { type: "SEND" });
  return logs.filter((l) => l.destinationId === destinationId);
}

async function verify(e: TestEngine, id: string): Promise<void> {
  const result = await e.engine.https!.verify(id);
  assert.ok(result?.verified, JSON.stringify(result));
  assert.match(result.reason ?? "", /FHIR 4\.0\.1 CapabilityStatement/);
}

Deno.test("MLLP ADT and ORU reach a FHIR server's $process-message as valid message bundles with SMART Backend Services; its OperationOutcome is the attempt's reason", async () => {
  await withFhirEngine(
    { refuseIdentifier: "HOLD1" },
    (dir, server) => fhirConfig(dir, server, [{ id: "fhir" }]),
    async (e, server, client) => {
      // Production: nothing goes before the server's CapabilityStatement verifies it.
      await verify(e, "fhir");
      await send(client, adt("F1"));
      await send(client, ORU_R01);
      await waitFor("two message bundles", () => server.messages.length >= 2);
      const [admit, result] = server.messages;
      assert.equal(admit!.entry[0].resource.eventCoding.display, "ADT^A01");
      const types = (b: typeof admit) =>
        b!.entry.map((x: { resource: { resourceType: string } }) => x.resource.resourceType);
      assert.ok(types(admit).includes("Patient") && types(admit).includes("Encounter"));
      assert.equal(result!.entry[0].resource.eventCoding.display, "ORU^R01");
      assert.ok(
        types(result).includes("DiagnosticReport") && types(result).includes("Observation"),
      );
      const patient =
        admit!.entry.find((x: { resource: { resourceType: string } }) =>
          x.resource.resourceType === "Patient"
        ).resource;
      assert.equal(patient.identifier[0].value, "F1");
      assert.equal(patient.birthDate, "1980-01-01");
      // SMART: one token, requested with a client assertion, used on every call.
      assert.equal(server.tokens.length, 1);
      assert.ok(
        server.resourceRequests.every((r) =>
          r.headers.get("authorization") === `Bearer ${server.tokens[0]!.token}`
        ),
      );
      const post = server.resourceRequests.find((r) => r.method === "POST")!;
      assert.equal(post.path, "/api/fhir/R4/$process-message");
      assert.equal(post.headers.get("content-type"), "application/fhir+json");
      assert.equal(post.headers.get("accept"), "application/fhir+json");
      await waitFor("two SEND logs succeeded", async () => {
        const logs = await sendLogs(e, "fhir");
        return logs.length === 2 && logs.every((l) => l.status === "SUCCEEDED");
      });

      // The server refuses a patient on hold: 422 with an OperationOutcome, kept at the head.
      await send(client, adt("HOLD1"));
      let failed: LogRecord | undefined;
      await waitFor("the refusal recorded", async () => {
        failed = (await sendLogs(e, "fhir")).find((l) => l.controlId === "HOLD1");
        return (failed?.attempts.length ?? 0) >= 1;
      });
      assert.equal(failed!.attempts[0]!.outcome, "FAILED");
      assert.equal(
        failed!.attempts[0]!.reason,
        "HTTP 422: OperationOutcome: error business-rule at Bundle.entry[1].resource.identifier: " +
          "patient HOLD1 is on hold",
      );
      assert.equal(server.refusals.length >= 1, true);
      assert.equal(server.messages.length, 2);
    },
  );
});

Deno.test("MLLP ADT to a FHIR server as transaction bundles: PUT by identifier, so the same patient is one resource", async () => {
  await withFhirEngine(
    {},
    (dir, server) =>
      fhirConfig(dir, server, [{ id: "ehr", bundle: "transaction", format: "fhir" }]),
    async (e, server, client) => {
      await verify(e, "ehr");
      await send(client, adt("T1"));
      // The same patient again (a new control id, a new name), then ORU for another patient.
      await send(
        client,
        adt("T1").replace("|T1|P|", "|T1-2|P|").replace("DOE^JANE", "DOE^JANET"),
      );
      await waitFor("two transactions", () => server.transactions.length >= 2);
      const [first] = server.transactions;
      assert.equal(first!.type, "transaction");
      const patientEntry = first!.entry.find((x: { resource: { resourceType: string } }) =>
        x.resource.resourceType === "Patient"
      );
      assert.equal(patientEntry.request.method, "PUT");
      assert.match(patientEntry.request.url, /^Patient\?identifier=/);
      assert.ok(
        !first!.entry.some((x: { resource: { resourceType: string } }) =>
          x.resource.resourceType === "MessageHeader"
        ),
      );
      const post = server.resourceRequests.find((r) => r.method === "POST")!;
      assert.equal(post.path, "/api/fhir/R4");
      const patients = [...server.resources.values()].filter((r) => r.resourceType === "Patient");
      assert.equal(patients.length, 1, "the second message updated the patient");
      assert.equal(patients[0]!.name[0].given[0], "JANET");
      await waitFor("SEND logs succeeded", async () => {
        const logs = await sendLogs(e, "ehr");
        return logs.length === 2 && logs.every((l) => l.status === "SUCCEEDED");
      });
    },
  );
});

Deno.test("a FHIR subscription or a FHIR destination keeps its integration off the intake path", async () => {
  await using dir = await tempDir({ prefix: "fhir-destination-" });
  const server = await startFhirServer(pki);
  try {
    const byDestination = fhirConfig(dir.path, server, [{ id: "fhir" }]);
    assert.equal(
      routesWithoutApplicationStep(byDestination, byDestination.integrations[0]!),
      false,
    );
    // A plain HTTPS destination asked for FHIR by the subscription.
    const plain = fhirConfig(dir.path, server, [{ id: "app", format: "fhir" }]);
    plain.destinations[0]!.https!.fhir = undefined;
    assert.equal(routesWithoutApplicationStep(plain, plain.integrations[0]!), false);
    // The same subscription in HL7 v2 may be routed at intake.
    plain.subscriptions[0]!.format = "hl7v2";
    assert.equal(routesWithoutApplicationStep(plain, plain.integrations[0]!), true);
  } finally {
    await server.close();
  }
});

Deno.test("data-model JSON posted to /endpoint reaches a FHIR server as a message bundle", async () => {
  await withFhirEngine(
    {},
    (dir, server) => {
      const config = fhirConfig(dir, server, [{ id: "fhir" }]);
      const parsed = parseConfig({
        environments: [{ id: "prod", type: "production" }],
        sources: [{
          id: "app",
          environment: "prod",
          clientId: "app-client",
          auth: { secret: { env: "APP_SECRET" } },
        }],
      }, { env: () => "app-secret-value", readFile: () => new Error("-") });
      assert.ok(parsed.ok);
      config.sources = parsed.config.sources;
      config.subscriptions.push({ from: { source: "app" }, to: ["fhir"] });
      return config;
    },
    async (e, server) => {
      await verify(e, "fhir");
      const api = apiOf(e);
      const token = await api.token("app-client", "app-secret-value");
      const res = await fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          Meta: { DataModel: "PatientAdmin", EventType: "NewPatient" },
          Patient: {
            Identifiers: [{ ID: "API7", IDType: "MR" }],
            Demographics: { FirstName: "ADA", LastName: "LOVELACE", DOB: "1815-12-10" },
          },
        }),
      });
      assert.equal(res.status, 200, await res.text());
      await waitFor("one message bundle", () => server.messages.length >= 1);
      const patient =
        server.messages[0]!.entry.find((x: { resource: { resourceType: string } }) =>
          x.resource.resourceType === "Patient"
        ).resource;
      assert.equal(patient.identifier[0].value, "API7");
      assert.equal(patient.birthDate, "1815-12-10");
    },
    true,
  );
});

Deno.test("MLLP VXU^V04 (no data model) reaches a FHIR server as a valid message bundle with Immunizations", async () => {
  await withFhirEngine(
    {},
    (dir, server) => fhirConfig(dir, server, [{ id: "fhir" }]),
    async (e, server, client) => {
      await verify(e, "fhir");
      await send(client, VXU_V04);
      await waitFor("the VXU bundle", () => server.messages.length >= 1);
      const [vxu] = server.messages;
      assert.equal(vxu!.entry[0].resource.eventCoding.display, "VXU^V04");
      const resources = vxu!.entry.map((x: { resource: Record<string, unknown> }) => x.resource);
      const types = resources.map((r: { resourceType: string }) => r.resourceType);
      assert.deepEqual(types, ["MessageHeader", "Patient", "Immunization", "Immunization"]);
      assert.equal(resources[2].vaccineCode.coding[0].system, "http://hl7.org/fhir/sid/cvx");
      assert.equal(resources[2].vaccineCode.coding[0].code, "48");
      await waitFor("the SEND log succeeded", async () => {
        const logs = await sendLogs(e, "fhir");
        return logs.length === 1 && logs[0]!.status === "SUCCEEDED";
      });
    },
  );
});

Deno.test("MLLP VXU^V04 to a FHIR server as a transaction bundle: Immunizations PUT by their ORC-3 identifier", async () => {
  await withFhirEngine(
    {},
    (dir, server) =>
      fhirConfig(dir, server, [{ id: "ehr", bundle: "transaction", format: "fhir" }]),
    async (e, server, client) => {
      await verify(e, "ehr");
      await send(client, VXU_V04);
      await waitFor("the transaction", () => server.transactions.length >= 1);
      const urls = server.transactions[0]!.entry.map((x: { request: { url: string } }) =>
        x.request.url
      );
      assert.equal(urls.filter((u: string) => u.startsWith("Immunization?identifier=")).length, 2);
      const imms = [...server.resources.values()].filter((r) => r.resourceType === "Immunization");
      assert.equal(imms.length, 2);
      await waitFor("the SEND log succeeded", async () => {
        const logs = await sendLogs(e, "ehr");
        return logs.length === 1 && logs[0]!.status === "SUCCEEDED";
      });
    },
  );
});
