/**
 * Data shaping through the admin endpoint: translation sets imported as CSV (versioned in KV,
 * used from the next message on, the version in each SEND log, kept across a restart, a failed
 * delivery reprocessed once the import supplies the missing code), `GET /admin/messages/:id`
 * showing the original and the modified payload, and `POST /admin/modifiers/try`.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { listLogs, type LogRecord } from "../../../actors/store/mod.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

const ADMIN = "admin-token-for-sets";
const auth = { authorization: `Bearer ${ADMIN}` };

function feed(controlId: string, sex: string): string {
  return [
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|${controlId}|P|2.5.1`,
    "EVN|A01|20240315123000",
    `PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|${sex}`,
    "PV1|1|I|4WEST^412^B",
  ].join("\r");
}

function config(dir: string, ehrPort: number, inPort = 0): Config {
  const parsed = parseConfig({
    kv: { path: `${dir}/engine.kv` },
    admin: { token: { env: "ADMIN_TOKEN" } },
    environments: [{ id: "dev", type: "development" }],
    translationSets: { localSex: { entries: { "1": "F" }, onMissing: "fail" } },
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: ehrPort },
      hl7Edits: [{ name: "sex", op: "translate", path: "PID-8", set: "localSex" }],
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  }, {
    env: (n) => n === "ADMIN_TOKEN" ? ADMIN : undefined,
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

async function call(
  e: TestEngine,
  path: string,
  init: RequestInit = {},
  // deno-lint-ignore no-explicit-any -- the tests read the answers' JSON freely
): Promise<{ status: number; json: any }> {
  const res = await e.app.request(path, { ...init, headers: { ...auth, ...init.headers } });
  return { status: res.status, json: await res.json() };
}

function importCsv(e: TestEngine, name: string, csv: string, query = "") {
  return call(e, `/admin/translation-sets/${name}${query}`, {
    method: "POST",
    headers: { "content-type": "text/csv" },
    body: csv,
  });
}

async function ehrLog(e: TestEngine, controlId: string): Promise<LogRecord | undefined> {
  const { logs } = await listLogs(e.engine.store.kv, { type: "SEND" });
  return logs.find((l) => l.controlId === controlId && l.destinationId === "ehr");
}

Deno.test("translation sets: a CSV import is a new version in KV, used from the next message on and named in its SEND log; a reprocess after the import delivers what failed; it outlives a restart", async () => {
  await using dir = await tempDir({ prefix: "shaping-admin-" });
  const { received, server: ehr, port: ehrPort } = await startRecordingHl7Server();
  let e = await startEngine(config(dir.path, ehrPort));
  let client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  try {
    // Version 0: the config's table. Code 2 is missing (onMissing fail): FAILED, dead letter.
    await client.sendAndWait(Hl7Message.parse(feed("A1", "1")));
    await client.sendAndWait(Hl7Message.parse(feed("A2", "2")));
    await waitFor("A1 delivered", () => received.length === 1);
    assert.match(received[0]!, /\rPID\|1\|\|MRN1\^\^\^HOSP\^MR\|\|DOE\^JANE\|\|19800101\|F/);
    let failed: LogRecord | undefined;
    await waitFor("A2 dead-lettered", async () => {
      failed = await ehrLog(e, "A2");
      return failed?.status === "FAILED" && failed.deadLetter !== undefined;
    });
    assert.match(failed!.reason!, /no entry in translation set localSex/);
    assert.deepEqual((await ehrLog(e, "A1"))!.shaping!.translationSets, [
      { name: "localSex", version: 0 },
    ]);

    // A bad CSV names its lines; nothing is stored.
    const bad = await importCsv(e, "localSex", "1,F\n2\n1,X\n");
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json.problems, [
      "line 2: expected 2 cells (code,replacement), found 1",
      "line 3: code 1 appears twice",
    ]);
    assert.equal((await importCsv(e, "bad name!", "1,F")).status, 400);
    const noDefault = await importCsv(e, "localSex", "1,F", "?onMissing=default");
    assert.equal(noDefault.status, 400);
    assert.match(noDefault.json.error, /default: required/);
    const unauth = await e.app.request("/admin/translation-sets/localSex", {
      method: "POST",
      body: "1,F",
    });
    assert.equal(unauth.status, 401);
    await unauth.body?.cancel();

    // Version 1 (imported): 2 → M, quoted cells and a header.
    const v1 = await importCsv(e, "localSex", 'from,to\r\n1,F\r\n"2","M"\r\n', "?by=ops");
    assert.equal(v1.status, 201, JSON.stringify(v1.json));
    assert.equal(v1.json.version.version, 1);
    assert.equal(v1.json.version.entries, 2);
    assert.equal(v1.json.version.by, "ops");
    assert.match(v1.json.version.importedAt, /^\d{4}-\d\d-\d\dT/);
    const listed = await call(e, "/admin/translation-sets");
    assert.deepEqual(listed.json.sets, [
      { name: "localSex", version: 1, entries: 2, onMissing: "fail", from: "import" },
    ]);
    const table = await call(e, "/admin/translation-sets/localSex");
    assert.deepEqual(table.json.entries, { "1": "F", "2": "M" });
    assert.equal(table.json.versions.length, 1);
    const v0 = await call(e, "/admin/translation-sets/localSex?version=0");
    assert.deepEqual(v0.json.entries, { "1": "F" });
    assert.equal((await call(e, "/admin/translation-sets/nope")).status, 404);

    // The dead letter, reprocessed: delivered with the imported table, no restart needed.
    const again = await call(e, `/admin/logs/${failed!.id}/reprocess`, {
      method: "POST",
      body: JSON.stringify({ reason: "localSex v1 maps 2" }),
    });
    assert.equal(again.status, 200, JSON.stringify(again.json));
    await waitFor("A2 delivered", () => received.length === 2);
    assert.match(received[1]!, /\|19800101\|M/);
    await client.sendAndWait(Hl7Message.parse(feed("A3", "2")));
    await waitFor("A3 delivered", () => received.length === 3);
    let a3: LogRecord | undefined;
    await waitFor("A3 SUCCEEDED", async () => {
      a3 = await ehrLog(e, "A3");
      return a3?.status === "SUCCEEDED";
    });
    assert.deepEqual(a3!.shaping!.translationSets, [{ name: "localSex", version: 1 }]);

    // GET /admin/messages/:id: the original as received and the payload the EHR got.
    const msg = await call(e, `/admin/messages/${a3!.messageId}`);
    assert.equal(msg.status, 200);
    assert.match(msg.json.payload, /\|19800101\|2\r/);
    assert.equal(msg.json.modified.length, 1);
    assert.equal(msg.json.modified[0].logId, a3!.id);
    assert.equal(msg.json.modified[0].destinationId, "ehr");
    assert.equal(msg.json.modified[0].messageId, a3!.shaping!.messageId);
    assert.match(msg.json.modified[0].payload, /\|19800101\|M\r/);

    // A restart keeps version 1 (KV), with the config's onMissing.
    const inPort = e.mllpPort;
    await client.close();
    await e.close();
    e = await startEngine(config(dir.path, ehrPort, inPort));
    client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
    assert.deepEqual((await call(e, "/admin/translation-sets")).json.sets[0].version, 1);
    await client.sendAndWait(Hl7Message.parse(feed("A4", "2")));
    await waitFor("A4 delivered", () => received.length === 4);
    assert.match(received[3]!, /\|19800101\|M/);
    const v2 = await importCsv(e, "localSex", "1,F\n2,M\n3,U\n");
    assert.equal(v2.json.version.version, 2);
    assert.equal((await call(e, "/admin/translation-sets/localSex")).json.versions.length, 2);
  } finally {
    await client.close();
    await e.close();
    await ehr.stop();
  }
});

Deno.test("POST /admin/modifiers/try runs modifiers on a stored message's JSON and HL7 edits on its HL7, answers the result and the paths changed, and delivers nothing", async () => {
  await using dir = await tempDir({ prefix: "shaping-admin-" });
  const { received, server: ehr, port: ehrPort } = await startRecordingHl7Server();
  const e = await startEngine(config(dir.path, ehrPort));
  const client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  try {
    await client.sendAndWait(Hl7Message.parse(feed("T1", "1")));
    await waitFor("T1 delivered", () => received.length === 1);
    const { logs } = await listLogs(e.engine.store.kv, { type: "SEND" });
    const messageId = logs[0]!.messageId;
    const logsBefore = (await listLogs(e.engine.store.kv, {})).logs.length;
    const tryIt = (body: unknown) =>
      call(e, "/admin/modifiers/try", { method: "POST", body: JSON.stringify(body) });

    const mods = await tryIt({
      messageId,
      destination: "ehr",
      modifiers: [
        {
          name: "sex",
          flavor: "put",
          selector: "Patient.Demographics.Sex",
          schema: { translate: { set: "localSex", onMissing: "pass" } },
        },
        { flavor: "delete", selector: "Patient.Demographics.DOB" },
        { flavor: "put", selector: "Meta.Extensions.Dest", schema: { use: "destination" } },
      ],
    });
    assert.equal(mods.status, 200, JSON.stringify(mods.json));
    assert.equal(mods.json.kind, "modifiers");
    assert.equal(mods.json.result.Patient.Demographics.DOB, undefined);
    assert.equal(mods.json.result.Meta.Extensions.Dest, "ehr");
    assert.deepEqual(mods.json.diff, [
      { path: "Meta.Extensions", change: "added" },
      { path: "Patient.Demographics.DOB", change: "removed" },
      { path: "Patient.Demographics.Sex", change: "changed" },
    ]);
    assert.equal(mods.json.result.Patient.Demographics.Sex, "F");
    assert.deepEqual(mods.json.runs.map((r: { changed: string[] }) => r.changed), [
      ["Patient.Demographics.Sex"],
      ["Patient.Demographics.DOB"],
      ["Meta.Extensions.Dest"],
    ]);

    const edits = await tryIt({
      messageId,
      hl7Edits: [
        { op: "translate", path: "PID-8", set: "localSex" },
        { op: "set", path: "PID-3[1].4", value: "NEW" },
      ],
    });
    assert.equal(edits.status, 200, JSON.stringify(edits.json));
    assert.equal(edits.json.kind, "hl7Edits");
    assert.match(edits.json.result, /\rPID\|1\|\|MRN1\^\^\^NEW\^MR\|\|DOE\^JANE\|\|19800101\|F/);
    assert.deepEqual(edits.json.diff, [
      { path: "PID-8", change: "changed" },
      { path: "PID-3[1].4", change: "changed" },
    ]);
    assert.deepEqual(edits.json.translationSets, [{ name: "localSex", version: 0 }]);

    // A payload instead of a stored message.
    const payload = await tryIt({
      payload: { Meta: { DataModel: "PatientAdmin" }, Patient: { Demographics: { Sex: "1" } } },
      modifiers: [{
        flavor: "put",
        selector: "Patient.Demographics.Sex",
        schema: { translate: "localSex" },
      }],
    });
    assert.equal(payload.json.result.Patient.Demographics.Sex, "F");
    assert.deepEqual(payload.json.diff, [{ path: "Patient.Demographics.Sex", change: "changed" }]);

    // Refusals: a list that does not compile (by path), a failing modifier, unknown ids.
    const wrong = await tryIt({
      messageId,
      modifiers: [{
        flavor: "put",
        selector: "Patient.Demographics.Sex",
        schema: { if: { operator: "bogus" } },
      }],
    });
    assert.equal(wrong.status, 400);
    assert.match(wrong.json.problems[0].path, /^modifiers\[0\]\.schema\.if\.operator$/);
    const fails = await tryIt({
      payload: feed("X", "7"),
      hl7Edits: [{ name: "sex", op: "translate", path: "PID-8", set: "localSex" }],
    });
    assert.equal(fails.status, 422);
    assert.equal(
      fails.json.error,
      "edit [0] (sex) translate at PID-8: no entry in translation set localSex (onMissing: fail)",
    );
    assert.equal((await tryIt({ messageId: "0000nomsg", modifiers: [] })).status, 404);
    assert.equal((await tryIt({ messageId, modifiers: [], hl7Edits: [] })).status, 400);
    assert.equal((await tryIt({ messageId, modifiers: [], destination: "x" })).status, 400);

    // Nothing was delivered or logged by any of it.
    assert.equal(received.length, 1);
    assert.equal((await listLogs(e.engine.store.kv, {})).logs.length, logsBefore);
  } finally {
    await client.close();
    await e.close();
    await ehr.stop();
  }
});
