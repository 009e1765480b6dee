/**
 * Redox-shaped payloads (redox_fixtures.ts), one per data model and event the README lists, posted
 * unchanged through the real API (token, `POST /endpoint`) to an MLLP destination (`@medplum/hl7`
 * `Hl7Server`) and an HTTPS destination (real TLS), both named in `Meta.Destinations` by Redox's
 * `Name` only. Each is accepted with Redox's response Meta; its HL7 holds the values at the
 * fixture's HL7 paths, MSH-3..6 from the `msh` config (MSH-4 from `Meta.FacilityCode`), and read
 * back every mapped field; the HTTPS receiver gets the JSON as sent.
 */

import assert from "node:assert/strict";
import { hl7ToJson } from "../../../codecs/datamodel/mod.ts";
import { notMapped } from "../../../codecs/datamodel/not_mapped.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { makePki } from "../../helpers/tls.ts";
import { REDOX_FIXTURES } from "./redox_fixtures.ts";
import { startEngine } from "../../helpers/engine.ts";
import { at, leaves } from "../../helpers/json_leaves.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("Redox-shaped payloads of every listed event are accepted unchanged and lose nothing on the way to HL7", async (t) => {
  await using dir = await tempDir({ prefix: "redox-payloads-" });
  const pki = await makePki();
  const { received: hl7Received, server: hl7Server, port: mllpPort } =
    await startRecordingHl7Server();
  const jsonReceived: Record<string, unknown>[] = [];
  const receiver = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    cert: pki.serverCert,
    key: pki.serverKey,
    onListen: () => {},
  }, async (r) => {
    jsonReceived.push(await r.json());
    return new Response("ok");
  });
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "app",
      environment: "dev",
      clientId: "app-client",
      auth: { secret: { env: "APP_SECRET" } },
      msh: { sendingApplication: "RedoxApp", sendingFacility: "AppFacility" },
    }],
    destinations: [
      {
        id: "ehr",
        name: "Redox EMR",
        environment: "dev",
        msh: { receivingApplication: "EHR", receivingFacility: "RES" },
        mllp: { host: "127.0.0.1", port: mllpPort },
      },
      {
        id: "hook",
        name: "Redox Hook",
        environment: "dev",
        https: {
          url: `https://localhost:${receiver.addr.port}/in`,
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
  const httpSender = new FetchSender({ caCerts: [pki.caCert] });
  const e = await startEngine(config, { httpSender, http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app-client", "app-s3cret");
    const post = async (body: unknown) => {
      const res = await fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    };

    await t.step("an unknown destination is a 404 that quotes a long ID cut short", async () => {
      const fixture = REDOX_FIXTURES[0]!;
      const long = "x".repeat(5000);
      const res = await post({
        ...fixture.json,
        Meta: { ...fixture.json.Meta as object, Destinations: [{ ID: long, Name: "Nobody" }] },
      });
      assert.equal(res.status, 404);
      const text = res.json.Meta.Errors[0].Text as string;
      assert.match(text, /no destination with ID "x{64}"… \(5000 characters\) or Name "Nobody"/);
      assert.ok(text.length < 300);
    });

    for (const fixture of REDOX_FIXTURES) {
      await t.step(fixture.name, async () => {
        const meta = fixture.json.Meta as Record<string, unknown>;
        // Copied from Redox: their ids, our names.
        const body = {
          ...fixture.json,
          Meta: {
            ...meta,
            Destinations: [
              { ID: "af394f14-b34a-464f-8d24-895f370af4c9", Name: "Redox EMR" },
              { ID: "0f4bd1d1-451d-4351-8cfd-b767d1b488d6", Name: "Redox Hook" },
            ],
          },
        };
        const hl7Before = hl7Received.length, jsonBefore = jsonReceived.length;
        const res = await post(body);
        assert.equal(res.status, 200, JSON.stringify(res.json));
        const answer = res.json.Meta;
        assert.deepEqual(answer.Source, { ID: "app" });
        assert.deepEqual(answer.Destinations, [
          { ID: "ehr", Name: "Redox EMR" },
          { ID: "hook", Name: "Redox Hook" },
        ]);
        assert.equal(answer.Logs.length, 2);
        for (const l of answer.Logs) assert.equal(l.AttemptID, `${l.ID}-1`);
        assert.equal(typeof answer.Message.ID, "string");
        assert.match(
          answer.Errors[0].Text,
          /no destination has ID "af394f14.*matched by Name "Redox EMR" to destination ehr/,
        );

        await waitFor(
          "both deliveries",
          () => hl7Received.length > hl7Before && jsonReceived.length > jsonBefore,
        );
        const hl7 = parseHl7(hl7Received[hl7Before]!);
        assert.equal(hl7.get("MSH-3"), "RedoxApp");
        assert.equal(hl7.get("MSH-4"), "RES"); // Meta.FacilityCode wins over the source's
        assert.equal(hl7.get("MSH-5"), "EHR");
        assert.equal(hl7.get("MSH-6"), "RES");
        assert.equal(hl7.get("MSH-11"), "T");
        for (const [path, text] of Object.entries(fixture.hl7)) {
          assert.equal(hl7.get(path), text, `${fixture.name} ${path}`);
        }
        // Every mapped field is in the HL7: reading it back gives each value at its path.
        const back = hl7ToJson(hl7, { timeZone: "UTC" });
        const model = meta.DataModel as string;
        let checked = 0;
        for (const [path, generic, value] of leaves(fixture.json)) {
          if (generic.startsWith("Meta.") || notMapped(model, generic)) continue;
          checked++;
          const got = at(back, path);
          assert.deepEqual(got, value, `${fixture.name}: ${path} did not reach the HL7`);
        }
        assert.ok(checked > 15, `${fixture.name}: only ${checked} fields checked`);
        // The HTTPS destination gets the JSON as the client sent it (Meta rewritten by routing).
        const got = jsonReceived[jsonBefore]!;
        for (const k of Object.keys(fixture.json)) {
          if (k !== "Meta") assert.deepEqual(got[k], fixture.json[k], `${fixture.name}: ${k}`);
        }
      });
    }
  } finally {
    await e.close();
    httpSender.close();
    await receiver.shutdown();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
    await Deno.remove(pki.dir, { recursive: true });
  }
});
