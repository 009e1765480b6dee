/**
 * End to end across the data model: HL7 v2 over MLLP in, the data-model JSON out to an HTTPS
 * destination (a real HTTP server on loopback, development environment), with the basic
 * credential headers and the ids of each delivery.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { parseConfig } from "../../../actors/config/mod.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("MLLP in reaches an HTTPS destination as data-model JSON with its token and delivery id headers", async () => {
  await using dir = await tempDir({ prefix: "mllp-to-https-" });
  // deno-lint-ignore no-explicit-any -- the test reads deep into the JSON it received
  const received: { headers: Headers; body: Record<string, any> }[] = [];
  const receiver = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req) => {
      received.push({ headers: req.headers, body: await req.json() });
      return new Response("ok");
    },
  );
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "adt-feed",
      name: "Hospital ADT",
      environment: "dev",
      timeZone: "America/New_York",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "app",
      environment: "dev",
      https: {
        url: `http://127.0.0.1:${receiver.addr.port}/hook`,
        verificationToken: { env: "APP_TOKEN" },
      },
    }],
    subscriptions: [{
      from: { integration: "adt-feed" },
      to: ["app"],
      dataModels: ["PatientAdmin"],
    }],
  }, {
    env: (n) => n === "APP_TOKEN" ? "s3cret-token" : undefined,
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const httpSender = new FetchSender();
  const e = await startEngine(parsed.config, { httpSender });
  const { engine, log } = e;
  const inPort = e.mllpPort;
  const client = new Hl7Client({ host: "127.0.0.1", port: inPort });
  try {
    for (const id of ["J1", "J2"]) {
      const ack = await client.sendAndWait(Hl7Message.parse(adt(id)));
      assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA");
    }
    await waitFor("two JSON messages received", () => received.length >= 2);
    const [first, second] = received;
    assert.equal(first!.headers.get("verification-token"), "s3cret-token");
    assert.equal(first!.headers.get("authorization"), "Bearer s3cret-token");
    assert.match(first!.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(first!.body.Meta.DataModel, "PatientAdmin");
    assert.equal(first!.body.Meta.EventType, "Arrival");
    assert.deepEqual(first!.body.Meta.Source, { ID: "adt-feed", Name: "Hospital ADT" });
    assert.deepEqual(first!.body.Meta.Destinations, [{ ID: "app" }]);
    // 2024-03-15 12:30 in New York (EDT) is 16:30 UTC.
    assert.equal(first!.body.Meta.EventDateTime, "2024-03-15T16:30:00Z");
    assert.equal(first!.body.Patient.Demographics.LastName, "DOE");
    assert.equal(first!.body.Patient.Demographics.DOB, "1980-01-01");
    assert.deepEqual(
      [first!.body.Patient.Identifiers[0].ID, second!.body.Patient.Identifiers[0].ID],
      ["J1", "J2"],
    );
    await waitFor("SEND logs succeeded", async () => {
      const { logs } = await listLogs(engine.store.kv, { type: "SEND", status: "SUCCEEDED" });
      return logs.length === 2 && logs.every((l) => l.dataModel === "PatientAdmin");
    });
    // Each POST names its delivery (the SEND log) and the HL7 message as received, not the JSON
    // translation it carries.
    const { logs } = await listLogs(engine.store.kv, { type: "SEND" });
    for (const [i, controlId] of ["J1", "J2"].entries()) {
      const send = logs.find((l) => l.controlId === controlId);
      assert.ok(send?.deliveredId && send.deliveredId !== send.messageId, "a translation");
      const headers = received[i]!.headers;
      assert.equal(headers.get("x-engine-delivery-id"), send.id);
      assert.equal(headers.get("x-engine-message-id"), send.messageId);
      assert.equal(headers.get("x-engine-attempt"), "1");
    }
    assert.ok(!log.lines.some((l) => l.includes("s3cret-token")), "the token was logged");
  } finally {
    await client.close();
    await e.close();
    httpSender.close();
    await receiver.shutdown();
  }
});
