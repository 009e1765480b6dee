/**
 * Data shaping end to end: an MLLP feed with local codes (sex `1`/`2`, the MRN in PID-2, a
 * Z-segment, an SSN) through translation sets, HL7 edits to a `@medplum/hl7` Hl7Server and
 * config modifiers to an HTTPS destination as modified JSON. SEND logs list what ran and the
 * paths it changed, never values. A modifier that fails (a code missing from a set with
 * `onMissing: "fail"`) makes that delivery FAILED with the modifier and path in the reason, a
 * dead letter that a reprocess delivers once the config is fixed and the engine restarted.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { listLogs, type LogRecord } from "../../../actors/store/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

const ADMIN = "admin-token-for-shaping";

function feed(controlId: string, sex: string): string {
  return [
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|${controlId}|P|2.5.1`,
    "EVN|A01|20240315123000",
    `PID|1|MRN77|L1^^^OLD^PI||DOE^JANE||19800101|${sex}|||||||||||123-45-6789`,
    "PV1|1|I|4WEST^412^B",
    "NTE|1||keep me",
    "ZPI|1|vip",
  ].join("\r");
}

function config(
  dir: string,
  ehrPort: number,
  appUrl: string,
  inPort = 0,
  nineIs?: string,
): Config {
  const parsed = parseConfig({
    node: { id: "shaping" },
    kv: { path: `${dir}/engine.kv` },
    admin: { token: { env: "ADMIN_TOKEN" } },
    environments: [{ id: "dev", type: "development" }],
    translationSets: {
      localSex: {
        entries: { "1": "F", "2": "M", ...(nineIs ? { "9": nineIs } : {}) },
        onMissing: "fail",
      },
      localSexModel: {
        entries: { "1": "Female", "2": "Male" },
        onMissing: "default",
        default: "Unknown",
      },
    },
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [
      {
        id: "ehr",
        environment: "dev",
        mllp: { host: "127.0.0.1", port: ehrPort, onNack: "dead-letter" },
        hl7Edits: [
          { name: "mrn", op: "copy", from: "PID-2", to: "PID-3[1].1" },
          { op: "set", path: "PID-3[*].4", value: "HOSP" },
          { name: "sex", op: "translate", path: "PID-8", set: "localSex" },
          { op: "delete", segments: ["ZPI"] },
          { op: "map", sendingFacility: "ENGINE^1.2.3^ISO" },
        ],
      },
      {
        id: "app",
        environment: "dev",
        https: { url: appUrl, verificationToken: { env: "APP_TOKEN" } },
        modifiers: [
          { name: "no ssn", flavor: "delete", selector: "Patient.Demographics.SSN" },
        ],
      },
    ],
    subscriptions: [
      { from: { integration: "feed" }, to: ["ehr"] },
      {
        id: "to-app",
        from: { integration: "feed" },
        to: ["app"],
        modifiers: [
          {
            name: "sex",
            flavor: "put",
            selector: "Patient.Demographics.Sex",
            schema: { translate: "localSexModel" },
          },
          {
            name: "mrn",
            flavor: "put",
            selector: "Patient.Identifiers",
            schema: {
              concat: [{ use: "value" }, {
                properties: {
                  ID: { get: { path: "$.Extensions.HL7v2.Fields.PID-2", required: true } },
                  IDType: { constant: "MR" },
                },
              }],
            },
          },
        ],
      },
    ],
  }, {
    env: (n) => n === "APP_TOKEN" ? "app-token" : n === "ADMIN_TOKEN" ? ADMIN : undefined,
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

async function sendLogs(kv: Deno.Kv, destinationId: string): Promise<LogRecord[]> {
  const { logs } = await listLogs(kv, { type: "SEND" });
  return logs.filter((l) => l.destinationId === destinationId);
}

Deno.test("shaping: HL7 edits to an Hl7Server and modifiers to HTTPS, logged by path; a failure is FAILED, dead-lettered and reprocessed after the fix", async () => {
  await using dir = await tempDir({ prefix: "modifiers-end-to-end-" });
  const { received: hl7Received, server: ehr, port: ehrPort } = await startRecordingHl7Server();
  // deno-lint-ignore no-explicit-any -- the test reads deep into the JSON it received
  const posted: any[] = [];
  const receiver = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req) => {
      posted.push(await req.json());
      return new Response("ok");
    },
  );
  const appUrl = `http://127.0.0.1:${receiver.addr.port}/hook`;
  const httpSender = new FetchSender();
  let e = await startEngine(config(dir.path, ehrPort, appUrl), { httpSender, http: true });
  let client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  try {
    const ack = await client.sendAndWait(Hl7Message.parse(feed("S1", "1")));
    assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA");
    await waitFor(
      "the HL7 and the JSON delivered",
      () => hl7Received.length === 1 && posted.length === 1,
    );

    // HL7: edited where asked, every other segment as sent.
    const segs = hl7Received[0]!.split("\r");
    const sent = feed("S1", "1").split("\r");
    assert.equal(segs[0], sent[0]!.replace("|HOSP|ENGINE|", "|ENGINE^1.2.3^ISO|ENGINE|"));
    assert.equal(segs[1], sent[1]);
    assert.equal(
      segs[2],
      "PID|1|MRN77|MRN77^^^HOSP^PI||DOE^JANE||19800101|F|||||||||||123-45-6789",
    );
    assert.deepEqual(segs.slice(3).filter((s) => s !== ""), [sent[3], sent[4]]);

    // JSON: sex translated, SSN gone, the MRN from PID-2 appended as an identifier.
    const body = posted[0];
    assert.equal(body.Patient.Demographics.Sex, "Female");
    assert.equal("SSN" in body.Patient.Demographics, false);
    assert.deepEqual(body.Patient.Identifiers.at(-1), { ID: "MRN77", IDType: "MR" });

    // The SEND logs list what ran and the paths it changed, never a value.
    await waitFor("both SEND logs succeeded", async () => {
      const logs = [
        ...await sendLogs(e.engine.store.kv, "ehr"),
        ...await sendLogs(e.engine.store.kv, "app"),
      ];
      return logs.length === 2 && logs.every((l) => l.status === "SUCCEEDED");
    });
    const [ehrLog] = await sendLogs(e.engine.store.kv, "ehr");
    const [appLog] = await sendLogs(e.engine.store.kv, "app");
    // Each names the stored payload it sends (the modified one), shown by GET /admin/messages.
    const { messageId: ehrPayload, ...ehrShaping } = ehrLog!.shaping!;
    const { messageId: appPayload, ...appShaping } = appLog!.shaping!;
    assert.ok(ehrPayload && appPayload && ehrPayload !== appPayload);
    assert.deepEqual(ehrShaping, {
      steps: [{
        list: "destination",
        kind: "hl7Edits",
        ran: [
          { index: 0, name: "mrn", changed: ["PID-3[1].1"] },
          { index: 1, changed: ["PID-3[1].4"] },
          { index: 2, name: "sex", changed: ["PID-8"] },
          { index: 3, changed: ["ZPI[1]"] },
          { index: 4, changed: ["MSH-4"] },
        ],
      }],
      translationSets: [{ name: "localSex", version: 0 }],
    });
    assert.deepEqual(appShaping, {
      steps: [
        {
          list: "subscription to-app",
          kind: "modifiers",
          ran: [
            { index: 0, name: "sex", changed: ["Patient.Demographics.Sex"] },
            { index: 1, name: "mrn", changed: ["Patient.Identifiers"] },
          ],
        },
        {
          list: "destination",
          kind: "modifiers",
          ran: [{ index: 0, name: "no ssn", changed: ["Patient.Demographics.SSN"] }],
        },
      ],
      translationSets: [{ name: "localSexModel", version: 0 }],
    });
    for (const l of [ehrLog, appLog]) {
      const text = JSON.stringify(l);
      for (const phi of ["MRN77", "123-45-6789", "Female", "DOE"]) {
        assert.ok(!text.includes(phi), phi);
      }
    }

    // A code the set lacks, with onMissing "fail": that delivery fails, the JSON one goes on.
    const ack2 = await client.sendAndWait(Hl7Message.parse(feed("S2", "9")));
    assert.equal(ack2.getSegment("MSA")?.getField(1)?.toString(), "AA");
    await waitFor("the JSON of S2 delivered", () => posted.length === 2);
    assert.equal(posted[1].Patient.Demographics.Sex, "Unknown"); // onMissing default
    let failed: LogRecord | undefined;
    await waitFor("the ehr SEND log of S2 FAILED and dead-lettered", async () => {
      failed = (await sendLogs(e.engine.store.kv, "ehr")).find((l) => l.controlId === "S2");
      return failed?.status === "FAILED" && failed.deadLetter !== undefined;
    });
    assert.equal(
      failed!.reason,
      "destination ehr: edit [2] (sex) translate at PID-8: no entry in translation set localSex (onMissing: fail)",
    );
    assert.equal(hl7Received.length, 1);

    // The config fixed (9 → U), the engine restarted on the same port (the inbound queue is
    // named after it): a reprocess delivers it, edited.
    const inPort = e.mllpPort;
    await client.close();
    await e.close();
    e = await startEngine(config(dir.path, ehrPort, appUrl, inPort, "U"), {
      httpSender,
      http: true,
    });
    client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
    const res = await fetch(`${e.base}/admin/logs/${failed!.id}/reprocess`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ by: "ops", reason: "localSex now maps 9" }),
    });
    assert.equal(res.status, 200, await res.text());
    await waitFor("S2 delivered to the Hl7Server", () => hl7Received.length === 2);
    assert.match(
      hl7Received[1]!,
      /\rPID\|1\|MRN77\|MRN77\^\^\^HOSP\^PI\|\|DOE\^JANE\|\|19800101\|U\|/,
    );
  } finally {
    await client.close();
    await e.close();
    httpSender.close();
    await ehr.stop();
    await receiver.shutdown();
  }
});
