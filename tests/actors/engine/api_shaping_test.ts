/**
 * Modifiers and HL7 edits on JSON posted to `POST /endpoint` by an API source: the JSON route's
 * modifiers (subscription, then destination) change what the HTTPS destination gets, the MLLP
 * route's HL7 edits change the HL7 written from the JSON; both SEND logs list the paths (never
 * values) and name the stored payload; a modifier that fails refuses the request with 422.
 */

import assert from "node:assert/strict";
import { hl7ToJson } from "../../../codecs/datamodel/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { adt, startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import type { LogRecord } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("API sources: modifiers shape the JSON an HTTPS destination gets, HL7 edits the HL7 an MLLP destination gets; logged by path; a failing modifier is a 422", async () => {
  await using dir = await tempDir({ prefix: "api-shaping-" });
  const { received: hl7Received, server: hl7Server, port: mllpPort } =
    await startRecordingHl7Server();
  // deno-lint-ignore no-explicit-any -- the test reads deep into the JSON it received
  const jsonReceived: any[] = [];
  const receiver = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (r) => {
    jsonReceived.push(await r.json());
    return new Response("ok");
  });
  const parsed = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    admin: { token: { env: "ADMIN" } },
    environments: [{ id: "dev", type: "development" }],
    translationSets: { sexCodes: { entries: { Female: "1", Male: "2" }, onMissing: "fail" } },
    sources: [{
      id: "app",
      environment: "dev",
      clientId: "app-client",
      auth: { secret: { env: "APP_SECRET" } },
    }],
    destinations: [
      {
        id: "ehr",
        environment: "dev",
        mllp: { host: "127.0.0.1", port: mllpPort },
        hl7Edits: [{ name: "facility", op: "set", path: "PID-3[*].4", value: "ENGINE" }],
      },
      {
        id: "hook",
        environment: "dev",
        https: {
          url: `http://127.0.0.1:${receiver.addr.port}/in`,
          verificationToken: { env: "HOOK_TOKEN" },
        },
        modifiers: [{ name: "no ssn", flavor: "delete", selector: "Patient.Demographics.SSN" }],
      },
    ],
    subscriptions: [{
      from: { source: "app" },
      to: ["ehr", "hook"],
      modifiers: [{
        name: "sex",
        flavor: "put",
        selector: "Patient.Demographics.Sex",
        schema: { translate: "sexCodes" },
      }],
    }],
  }, {
    env: (n) =>
      ({ APP_SECRET: "app-s3cret", HOOK_TOKEN: "hook-token", ADMIN: "adm-0123456789abcdef" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const httpSender = new FetchSender();
  const e = await startEngine(parsed.config, { httpSender, http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app-client", "app-s3cret");
    const post = (body: unknown) =>
      fetch(`${api.base}/endpoint`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const message = hl7ToJson(adt("API1"), { timeZone: "UTC", extensions: false }) as unknown as {
      Patient: { Demographics: Record<string, unknown> };
    };
    message.Patient.Demographics.SSN = "123-45-6789";
    const ok = await post(message);
    assert.equal(ok.status, 200, await ok.clone().text());
    const answer = await ok.json();
    await waitFor("delivered to both", () => hl7Received.length === 1 && jsonReceived.length === 1);

    // JSON: the subscription's modifier, then the destination's.
    assert.equal(jsonReceived[0].Patient.Demographics.Sex, "1");
    assert.equal("SSN" in jsonReceived[0].Patient.Demographics, false);
    assert.equal(jsonReceived[0].Patient.Demographics.LastName, "DOE");
    // HL7 written from the posted JSON (not from the modified one: modifiers are for JSON),
    // then edited.
    assert.match(hl7Received[0]!, /\rPID\|1\|\|API1\^\^\^ENGINE\|/);
    assert.match(hl7Received[0]!, /\rPID\|([^|\r]*\|){7}F\|/);

    const logs: (LogRecord | null)[] = await Promise.all(
      answer.Meta.Logs.map((l: { ID: string }) => e.engine.store.getLog(l.ID)),
    );
    const hookLog = logs.find((l) => l?.destinationId === "hook")!;
    const ehrLog = logs.find((l) => l?.destinationId === "ehr")!;
    assert.deepEqual(hookLog.shaping!.steps.map((s) => [s.list, s.ran[0]!.changed]), [
      ["subscriptions[0]", ["Patient.Demographics.Sex"]],
      ["destination", ["Patient.Demographics.SSN"]],
    ]);
    assert.deepEqual(hookLog.shaping!.translationSets, [{ name: "sexCodes", version: 0 }]);
    assert.deepEqual(ehrLog.shaping!.steps.map((s) => [s.kind, s.ran[0]!.changed]), [
      ["hl7Edits", ["PID-3[1].4"]],
    ]);
    for (const l of [hookLog, ehrLog]) {
      assert.ok(!JSON.stringify(l).includes("123-45-6789"));
      assert.ok(!JSON.stringify(l).includes("DOE"));
    }
    // The original and both modified payloads, through the admin endpoint.
    const view = await (await e.app.request(`/admin/messages/${answer.Meta.Message.ID}`, {
      headers: { authorization: "Bearer adm-0123456789abcdef" },
    })).json();
    assert.match(view.payload, /123-45-6789/);
    assert.deepEqual(
      view.modified.map((m: { destinationId: string }) => m.destinationId).sort(),
      ["ehr", "hook"],
    );
    const hookPayload = view.modified.find((m: { destinationId: string }) =>
      m.destinationId === "hook"
    );
    assert.equal(JSON.parse(hookPayload.payload).Patient.Demographics.Sex, "1");

    // A sex code the set lacks (onMissing fail): refused at once, nothing stored or sent.
    const logCount = async () =>
      (await (await e.app.request("/admin/logs", {
        headers: { authorization: "Bearer adm-0123456789abcdef" },
      }))
        .json()).logs.length;
    const before = await logCount();
    const odd = structuredClone(message);
    odd.Patient.Demographics.Sex = "Other";
    const refused = await post(odd);
    assert.equal(refused.status, 422);
    assert.match(
      JSON.stringify(await refused.json()),
      /destination (ehr|hook): subscriptions\[0\]: modifier \[0\] \(sex\) schema.translate at Patient.Demographics.Sex: no entry in translation set sexCodes/,
    );
    assert.ok(e.log.lines.some((l) => /api\.shaping-failed/.test(l)));
    assert.equal(await logCount(), before);
  } finally {
    await e.close();
    httpSender.close();
    await receiver.shutdown();
    await hl7Server.stop({ forceDrainTimeoutMs: 100 });
  }
});
