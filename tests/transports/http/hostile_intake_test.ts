/**
 * Hostile JSON and FHIR bodies on the API routes of a served engine (red team 11):
 * - a body wrong at every one of tens of thousands of array elements is answered at once with
 *   at most 101 problems (the first 100 and one counting the rest), on `/endpoint` and on
 *   `/fhir/R4/$process-message`; the data model's check was quadratic in its problems (40,000
 *   took ~6 s, 300,000 held a planning thread past its 120 s limit) and every problem was
 *   answered (10 MB from a 780 KB Bundle);
 * - FHIR keys and resource types that name `Object.prototype` members (`__proto__`,
 *   `constructor`, `toString`), which the R4 validator took for known ones, are refused 400 at
 *   their FHIRPath.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { ADT_A01, ZONE } from "../../codecs/datamodel/fixtures.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

type Json = Record<string, unknown>;

interface Api {
  e: TestEngine;
  /** Posts a text body to `path` with the source's token. */
  post(path: string, body: string, type?: string): Promise<Response>;
}

async function withApi(fn: (a: Api) => Promise<void>): Promise<void> {
  await using dir = await tempDir({ prefix: "hostile-intake-" });
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
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { http: true });
  try {
    const api = apiOf(e);
    const token = await api.token("app-client", "app-s3cret");
    await fn({
      e,
      post: (path, body, type = "application/json") =>
        fetch(`${api.base}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": type },
          body,
        }),
    });
  } finally {
    await e.close();
  }
}

/** The ADT^A01 message Bundle (MessageHeader, Patient, Encounter...), a fresh copy. */
function adtBundle(): Json & { entry: Json[] } {
  return JSON.parse(JSON.stringify(hl7ToFhir(ADT_A01, { timeZone: ZONE })));
}

function patientIndex(b: { entry: Json[] }): number {
  return b.entry.findIndex((e) => (e.resource as Json).resourceType === "Patient");
}

Deno.test("/endpoint: 40,000 array elements of the wrong type are answered 400 at once with the first 100 problems and one counting the rest", async () => {
  await withApi(async (a) => {
    const n = 40_000;
    const body = `{"Meta":{"DataModel":"PatientAdmin","EventType":"Arrival"},` +
      `"Patient":{"Identifiers":[${Array(n).fill("1").join(",")}]}}`;
    const r = await a.post("/endpoint", body);
    const answer = await r.json();
    assert.equal(r.status, 400);
    const errors = answer.Meta.Errors as { Text: string; Path: string }[];
    assert.equal(errors.length, 101);
    assert.deepEqual(errors[0], { Text: "not an object", Path: "Patient.Identifiers[0]" });
    assert.deepEqual(errors[100], {
      Text: `not an object; and ${n - 101} more problems after this one, not listed ` +
        "(only the first 100 are)",
      Path: "Patient.Identifiers[100]",
    });
  });
});

Deno.test("/fhir/R4/$process-message: a Patient with 5,000 wrong names is answered 400 with the first 100 issues and one counting the rest", async () => {
  await withApi(async (a) => {
    const b = adtBundle();
    const p = patientIndex(b);
    (b.entry[p]!.resource as Json).name = Array.from({ length: 5_000 }, () => ({ family: 1 }));
    const r = await a.post("/fhir/R4/$process-message", JSON.stringify(b), "application/fhir+json");
    const answer = await r.json();
    assert.equal(r.status, 400);
    assert.equal(answer.issue.length, 101);
    assert.deepEqual(answer.issue[0].expression, [`Bundle.entry[${p}].resource.name[0].family`]);
    const rest = /; and (\d+) more issues after this one, not listed \(only the first 100 are\)$/
      .exec(answer.issue[100].diagnostics);
    assert.ok(rest && Number(rest[1]) > 4_000, answer.issue[100].diagnostics);
  });
});

Deno.test("/fhir/R4: resource types and keys named like Object.prototype members are refused 400 at their FHIRPath, nothing stored", async () => {
  await withApi(async (a) => {
    const cases: [string, (b: Json & { entry: Json[] }, p: number) => void, string, string][] = [
      [
        "an entry of resourceType constructor",
        (b) =>
          b.entry.push({
            fullUrl: "urn:uuid:7d3c1e58-0f5a-4b7e-9c2d-6a1b3e5f7a9c",
            resource: { resourceType: "constructor", x: "<script>" },
          }),
        "Bundle.entry[LAST].resource.resourceType",
        'Unknown resource type "constructor"',
      ],
      [
        "an entry of resourceType __proto__",
        (b) =>
          b.entry.push({
            fullUrl: "urn:uuid:7d3c1e58-0f5a-4b7e-9c2d-6a1b3e5f7a9d",
            resource: { resourceType: "__proto__" },
          }),
        "Bundle.entry[LAST].resource.resourceType",
        'Unknown resource type "__proto__"',
      ],
      [
        "a contained resource of resourceType toString",
        (
          b,
          p,
        ) => ((b.entry[p]!.resource as Json).contained = [{ resourceType: "toString", id: "c1" }]),
        "Bundle.entry[P].resource.contained[0].resourceType",
        'Unknown resource type "toString"',
      ],
    ];
    for (const [what, edit, path, text] of cases) {
      const b = adtBundle();
      const p = patientIndex(b);
      edit(b, p);
      const where = path.replace("LAST", String(b.entry.length - 1)).replace("P", String(p));
      const r = await a.post("/fhir/R4/Bundle", JSON.stringify(b), "application/fhir+json");
      const answer = await r.json();
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(answer)}`);
      assert.deepEqual(answer.issue, [
        { severity: "error", code: "invalid", diagnostics: text, expression: [where] },
      ], what);
    }
    // An own `__proto__` key (JSON.parse makes one) in a Patient: the text is spliced in, as a
    // JavaScript object literal would not keep it.
    const b = adtBundle();
    const p = patientIndex(b);
    const text = JSON.stringify(b).replace(
      `"resourceType":"Patient",`,
      `"resourceType":"Patient","__proto__":{"birthDate":"x"},`,
    );
    const r = await a.post("/fhir/R4/$process-message", text, "application/fhir+json");
    assert.equal(r.status, 400);
    assert.deepEqual((await r.json()).issue, [{
      severity: "error",
      code: "invalid",
      diagnostics: 'Invalid property "__proto__": no FHIR element has this name',
      expression: [`Bundle.entry[${p}].resource.__proto__`],
    }]);
    assert.equal(a.e.log.lines.filter((l) => / fhir\.invalid /.test(l)).length, cases.length + 1);
    assert.deepEqual((await a.e.engine.store.listLogs()).logs, [], "nothing stored");
  });
});

Deno.test("a JSON body labelled with a charset other than UTF-8 is refused 415 naming the charset, on /endpoint, /query and /fhir/R4", async () => {
  await withApi(async (a) => {
    const dm = JSON.stringify({
      Meta: { DataModel: "PatientAdmin", EventType: "Arrival", Test: true },
      Patient: { Identifiers: [{ ID: "1", IDType: "MR" }] },
    });
    const text = (charset: string) =>
      `charset "${charset}" is not supported: send the JSON as UTF-8 (charset=utf-8, or no charset)`;
    for (const [charset, path] of [["utf-16", "/endpoint"], ["ISO-8859-1", "/query"]]) {
      const r = await a.post(path!, dm, `application/json; charset=${charset}`);
      assert.equal(r.status, 415, path);
      assert.deepEqual(await r.json(), { Meta: { Errors: [{ Text: text(charset!) }] } });
    }
    const r = await a.post(
      "/fhir/R4/$process-message",
      JSON.stringify(adtBundle()),
      `application/fhir+json; charset="windows-1252"`,
    );
    assert.equal(r.status, 415);
    assert.equal((await r.json()).issue[0].diagnostics, text("windows-1252"));
    // UTF-8 in any spelling is taken.
    const ok = await a.post("/fhir/R4/$process-message", "[]", "application/json; Charset=UTF8");
    assert.equal(ok.status, 400);
    await ok.body?.cancel();
    assert.deepEqual((await a.e.engine.store.listLogs()).logs, [], "nothing stored");
  });
});
