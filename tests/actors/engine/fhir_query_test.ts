/**
 * `POST /query` to a FHIR destination end to end: an API source's `PatientSearch.Query`, the
 * engine, and `GET <base>/Patient?…` on the FHIR R4 server peer (fhir_server.ts, real HTTPS
 * behind SMART Backend Services) whose `searchset` comes back as a `PatientSearch.Response`:
 * one match, several, none, an OperationOutcome, no answer in time. With
 * `Accept: application/fhir+json` the answer is a `searchset` Bundle (the server's Patients as it
 * sent them) and every refusal an OperationOutcome; other destinations answer such a client 406.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { validateFhirBundle, validateFhirResource } from "../../../codecs/fhir/validate.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine } from "../../helpers/engine.ts";
import { freePort } from "../../helpers/net.ts";
import { makePki } from "../../helpers/tls.ts";
import {
  FHIR_BASE_PATH,
  type FhirServer,
  SMART_CLIENT_ID,
  SMART_SCOPE,
  startFhirServer,
} from "./fhir_server.ts";
import { tempDir } from "../../helpers/temp.ts";

/** `POST /query` with `body` (and `Accept: accept` unless empty): status, content type and JSON. */
async function postQuery(base: string, token: string, body: unknown, accept: string) {
  const res = await fetch(`${base}/query`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(accept ? { accept } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  // deno-lint-ignore no-explicit-any -- the assertions read deep into the answers
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text);
  } catch { /* not JSON: the assertions say so */ }
  return { status: res.status, type: res.headers.get("content-type"), json, text };
}

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const HOSP = "urn:oid:1.2.840.114350.1.13.0";

/** Patients the server holds, as a FHIR server stores them. */
const PATIENTS = [
  {
    resourceType: "Patient",
    id: "p1",
    identifier: [{ system: HOSP, value: "0000123" }],
    name: [{ family: "BIXBY", given: ["TIMOTHY", "Q"] }],
    gender: "male",
    birthDate: "2008-01-06",
    address: [{ line: ["4762 HICKORY ST"], city: "MONROE", state: "WI", postalCode: "53566" }],
  },
  {
    resourceType: "Patient",
    id: "p2",
    identifier: [{ system: HOSP, value: "0000456" }],
    name: [{ family: "BIXBY", given: ["TOM"] }],
    gender: "male",
    birthDate: "2009-01-01",
  },
  {
    resourceType: "Patient",
    id: "p3",
    identifier: [{ system: HOSP, value: "0000789" }],
    name: [{ family: "WELBY", given: ["MARCUS"] }],
    gender: "male",
    birthDate: "1950-05-05",
  },
];

function search(patient: Record<string, unknown>): Record<string, unknown> {
  return {
    Meta: { DataModel: "PatientSearch", EventType: "Query", Destinations: [{ ID: "fhir" }] },
    Patient: patient,
  };
}

/**
 * A production API source querying a FHIR destination with SMART Backend Services (and, when
 * given, destinations that are no FHIR server).
 */
function configFor(
  dir: string,
  server: FhirServer,
  others: Record<string, unknown>[] = [],
): Config {
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    // 5 s: every query that is answered must be within it, the first MLLP one starting the
    // socket thread too (at 1 s, it timed out with two CPU hogs beside the test).
    limits: { queryTimeoutSeconds: 5 },
    environments: [{ id: "prod", type: "production" }],
    sources: [
      { id: "app", environment: "prod", clientId: "app", auth: { secret: { env: "APP_SECRET" } } },
    ],
    destinations: [{
      id: "fhir",
      environment: "prod",
      https: {
        url: server.base,
        verificationToken: { env: "VT" },
        fhir: { identifierSystems: { HOSP } },
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
    }, ...others],
    subscriptions: [{ from: { source: "app" }, to: ["fhir", ...others.map((d) => d.id)] }],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret", VT: "vt-secret", FHIR_KEY: server.privateKey })[n],
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

Deno.test("POST /query to a FHIR destination searches its Patients and answers in the data model", async (t) => {
  await using dir = await tempDir({ prefix: "fhir-query-" });
  const server = await startFhirServer(pki, {
    failSearch: { identifier: `${HOSP}|BROKEN`, status: 500 },
    hangSearchIdentifier: `${HOSP}|SLOW`,
  });
  for (const p of PATIENTS) server.resources.set(`Patient/${p.id}`, p);
  const httpSender = new FetchSender({ caCerts: [pki.caCert] });
  const e = await startEngine(configFor(dir.path, server), { httpSender, http: true });
  const { engine } = e;
  try {
    const api = apiOf(e);
    const token = await api.token("app", "app-s3cret");
    const query = (body: unknown) => postQuery(api.base, token, body, "");
    const searches = () => server.requests.filter((r) => r.path.startsWith(FHIR_BASE_PATH));

    await t.step(
      "a production FHIR destination is asked nothing before it is verified",
      async () => {
        const res = await query(search({ Identifiers: [{ ID: "0000123", IDType: "HOSP" }] }));
        assert.equal(res.status, 403, res.text);
        assert.match(res.text, /not verified/);
        assert.equal(searches().length, 0);
        const verified = await engine.https!.verify("fhir");
        assert.ok(verified?.verified, JSON.stringify(verified));
      },
    );

    await t.step(
      "one match by identifier is the Patient, read with the Patient table",
      async () => {
        const before = server.tokens.length;
        const res = await query(search({ Identifiers: [{ ID: "0000123", IDType: "HOSP" }] }));
        assert.equal(res.status, 200, res.text);
        const asked = searches().at(-1)!;
        assert.equal(asked.method, "GET");
        const url = new URL(asked.path, server.base);
        assert.equal(url.pathname, `${FHIR_BASE_PATH}/Patient`);
        assert.deepEqual(url.searchParams.getAll("identifier"), [`${HOSP}|0000123`]);
        assert.equal(asked.headers.get("accept"), "application/fhir+json");
        // The destination's SMART token, fetched for the verification or now.
        assert.match(asked.headers.get("authorization") ?? "", /^Bearer /);
        assert.ok(server.tokens.length >= Math.max(1, before));
        assert.equal(res.json.Meta.DataModel, "PatientSearch");
        assert.equal(res.json.Meta.EventType, "Response");
        assert.deepEqual(res.json.Meta.Destinations, [{ ID: "fhir" }]);
        assert.deepEqual(res.json.Meta.Errors, []);
        assert.deepEqual(res.json.PotentialMatches, []);
        const p = res.json.Patient;
        assert.deepEqual(p.Identifiers, [{ ID: "0000123", IDType: "HOSP" }]);
        assert.equal(p.Demographics.LastName, "BIXBY");
        assert.equal(p.Demographics.FirstName, "TIMOTHY");
        assert.equal(p.Demographics.DOB, "2008-01-06");
        assert.equal(p.Demographics.Sex, "Male");
        assert.equal(p.Demographics.Address.City, "MONROE");
        // Logged as a query: the REQUEST (what was asked) and the RESPOND (the searchset).
        assert.equal(res.json.Meta.Logs.length, 2);
        const [request, respond] = await Promise.all(
          res.json.Meta.Logs.map((l: { ID: string }) => engine.store.getLog(l.ID)),
        );
        assert.equal(request?.type, "REQUEST");
        assert.equal(request?.status, "SUCCEEDED");
        assert.equal(request?.destinationId, "fhir");
        assert.match(request?.reason ?? "", /HTTP 200: searchset, 1 patient/);
        assert.equal(respond?.type, "RESPOND");
        const stored = await engine.store.getMessage(respond!.messageId);
        assert.equal(stored?.contentType, "application/fhir+json");
      },
    );

    await t.step("several matches by name are PotentialMatches", async () => {
      const res = await query(search({ Demographics: { LastName: "Bixby", Sex: "Male" } }));
      assert.equal(res.status, 200, res.text);
      const url = new URL(searches().at(-1)!.path, server.base);
      assert.equal(url.searchParams.get("family"), "Bixby");
      assert.equal(url.searchParams.get("gender"), "male");
      assert.equal(res.json.Patient, null);
      assert.deepEqual(
        res.json.PotentialMatches.map((p: { Identifiers: { ID: string }[] }) =>
          p.Identifiers[0]!.ID
        )
          .sort(),
        ["0000123", "0000456"],
      );
      assert.deepEqual(res.json.Meta.Errors, []);
    });

    await t.step("name and birth date narrow to one", async () => {
      const res = await query(
        search({ Demographics: { LastName: "BIXBY", FirstName: "TOM", DOB: "2009-01-01" } }),
      );
      assert.equal(res.status, 200, res.text);
      const url = new URL(searches().at(-1)!.path, server.base);
      assert.equal(url.searchParams.get("birthdate"), "2009-01-01");
      assert.equal(url.searchParams.get("given"), "TOM");
      assert.equal(res.json.Patient.Demographics.FirstName, "TOM");
    });

    await t.step("no match is no Patient and no PotentialMatches, without error", async () => {
      const res = await query(search({ Identifiers: [{ ID: "0000999", IDType: "HOSP" }] }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.Patient, null);
      assert.deepEqual(res.json.PotentialMatches, []);
      assert.deepEqual(res.json.Meta.Errors, []);
    });

    await t.step(
      "an OperationOutcome with a 500 is a Meta.Errors entry and a FAILED log",
      async () => {
        const res = await query(search({ Identifiers: [{ ID: "BROKEN", IDType: "HOSP" }] }));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.Patient, null);
        assert.deepEqual(res.json.PotentialMatches, []);
        assert.equal(res.json.Meta.Errors.length, 1);
        assert.equal(res.json.Meta.Errors[0].Type, "destination");
        assert.match(
          res.json.Meta.Errors[0].Text,
          /^destination fhir answered HTTP 500: OperationOutcome: error exception: the patient index is offline$/,
        );
        const request = await engine.store.getLog(res.json.Meta.Logs[0].ID);
        assert.equal(request?.status, "FAILED");
        assert.match(request?.reason ?? "", /HTTP 500: OperationOutcome/);
      },
    );

    await t.step("a server that does not answer in time is a 504", async () => {
      const res = await query(search({ Identifiers: [{ ID: "SLOW", IDType: "HOSP" }] }));
      assert.equal(res.status, 504, res.text);
      assert.match(res.text, /did not answer within 5 s/);
    });

    await t.step("a query without criteria is refused before anything is sent", async () => {
      const asked = searches().length;
      const res = await query(search({ Demographics: {} }));
      assert.equal(res.status, 400, res.text);
      assert.match(res.text, /no search criteria/);
      assert.equal(searches().length, asked);
    });
  } finally {
    await e.close();
    httpSender.close();
    await server.close();
  }
});

Deno.test("POST /query with Accept: application/fhir+json answers a searchset Bundle, refusals as OperationOutcomes", async (t) => {
  await using dir = await tempDir({ prefix: "fhir-query-" });
  const server = await startFhirServer(pki, {
    failSearch: { identifier: `${HOSP}|BROKEN`, status: 500 },
    hangSearchIdentifier: `${HOSP}|SLOW`,
    searchWarning: { family: "WELBY", diagnostics: "name search is approximate" },
  });
  for (const p of PATIENTS) server.resources.set(`Patient/${p.id}`, p);
  // Nothing listens there: a query that went out would be a 502, not a 406.
  const closed = await freePort();
  const others = [
    { id: "pdq", environment: "prod", mllp: { host: "127.0.0.1", port: closed } },
    {
      id: "hook",
      environment: "prod",
      https: { url: `https://127.0.0.1:${closed}/hook`, verificationToken: { env: "VT" } },
    },
  ];
  const httpSender = new FetchSender({ caCerts: [pki.caCert] });
  const e = await startEngine(configFor(dir.path, server, others), { httpSender, http: true });
  const { engine } = e;
  try {
    const api = apiOf(e);
    const token = await api.token("app", "app-s3cret");
    const query = (body: unknown, accept = "application/fhir+json") =>
      postQuery(api.base, token, body, accept);
    const to = (id: string, patient: Record<string, unknown>) => ({
      ...search(patient),
      Meta: { DataModel: "PatientSearch", EventType: "Query", Destinations: [{ ID: id }] },
    });
    /** The newest REQUEST and RESPOND logs of the FHIR destination, with their messages. */
    const lastLogs = async () => {
      const [request] = (await engine.store.listLogs({
        type: "REQUEST",
        destinationId: "fhir",
        limit: 1,
      })).logs;
      const [respond] = (await engine.store.listLogs({
        type: "RESPOND",
        destinationId: "fhir",
        limit: 1,
      })).logs;
      return {
        request: request!,
        respond: respond!,
        asked: await engine.store.getMessage(request!.messageId),
        answered: await engine.store.getMessage(respond!.messageId),
      };
    };
    const entries = (json: Record<string, unknown>) =>
      (json.entry ?? []) as { fullUrl?: string; resource: { id?: string }; search: unknown }[];

    await t.step("an unverified production destination is a 403 OperationOutcome", async () => {
      const res = await query(search({ Identifiers: [{ ID: "0000123", IDType: "HOSP" }] }));
      assert.equal(res.status, 403, res.text);
      assert.equal(res.type, "application/fhir+json");
      assert.equal(res.json.resourceType, "OperationOutcome");
      assert.equal(res.json.issue[0].code, "forbidden");
      assert.match(res.json.issue[0].diagnostics, /not verified/);
      assert.deepEqual(validateFhirResource(res.json), []);
      const verified = await engine.https!.verify("fhir");
      assert.ok(verified?.verified, JSON.stringify(verified));
    });

    await t.step(
      "one match is a searchset Bundle holding the server's Patient as it sent it",
      async () => {
        const res = await query(search({ Identifiers: [{ ID: "0000123", IDType: "HOSP" }] }));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.type, "application/fhir+json");
        assert.equal(res.json.resourceType, "Bundle");
        assert.equal(res.json.type, "searchset");
        assert.equal(res.json.total, 1);
        assert.equal(res.json.timestamp, "2026-12-04T10:00:00Z");
        assert.deepEqual(entries(res.json), [{
          fullUrl: `${server.base}/Patient/p1`,
          resource: PATIENTS[0],
          search: { mode: "match" },
        }]);
        assert.deepEqual(validateFhirBundle(res.json), []);
        // The logs store what they stored before: the data-model query, the GET, the searchset.
        const logs = await lastLogs();
        assert.equal(res.json.id, logs.request.id);
        assert.equal(logs.request.status, "SUCCEEDED");
        assert.match(logs.request.reason ?? "", /HTTP 200: searchset, 1 patient/);
        assert.equal(logs.asked?.contentType, "application/json");
        assert.equal(logs.answered?.contentType, "application/fhir+json");
      },
    );

    await t.step("several matches are one entry each, in the server's order", async () => {
      const res = await query(search({ Demographics: { LastName: "Bixby", Sex: "Male" } }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.total, 2);
      assert.deepEqual(
        entries(res.json).map((e) => [e.fullUrl, e.resource, e.search]),
        [PATIENTS[0], PATIENTS[1]].map((p) => [
          `${server.base}/Patient/${p!.id}`,
          p,
          { mode: "match" },
        ]),
      );
      assert.deepEqual(validateFhirBundle(res.json), []);
    });

    await t.step("no match is an empty searchset with total 0", async () => {
      const res = await query(search({ Identifiers: [{ ID: "0000999", IDType: "HOSP" }] }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.type, "searchset");
      assert.equal(res.json.total, 0);
      assert.deepEqual(entries(res.json), []);
      assert.deepEqual(validateFhirBundle(res.json), []);
    });

    await t.step(
      "the server's OperationOutcome entry is kept with search.mode outcome",
      async () => {
        const res = await query(search({ Demographics: { LastName: "WELBY" } }));
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.total, 1);
        const [match, outcome] = entries(res.json);
        assert.deepEqual(match?.resource, PATIENTS[2]);
        assert.deepEqual(outcome, {
          resource: {
            resourceType: "OperationOutcome",
            issue: [{
              severity: "warning",
              code: "informational",
              diagnostics: "name search is approximate",
            }],
          },
          search: { mode: "outcome" },
        });
        assert.deepEqual(validateFhirBundle(res.json), []);
      },
    );

    await t.step(
      "a server error is a 502 OperationOutcome: what happened, then the server's issues",
      async () => {
        const res = await query(search({ Identifiers: [{ ID: "BROKEN", IDType: "HOSP" }] }));
        assert.equal(res.status, 502, res.text);
        assert.equal(res.type, "application/fhir+json");
        assert.equal(res.json.resourceType, "OperationOutcome");
        assert.deepEqual(res.json.issue, [
          {
            severity: "error",
            code: "exception",
            diagnostics: "destination fhir answered HTTP 500: OperationOutcome: error exception: " +
              "the patient index is offline",
          },
          { severity: "error", code: "exception", diagnostics: "the patient index is offline" },
        ]);
        assert.deepEqual(validateFhirResource(res.json), []);
        const logs = await lastLogs();
        assert.equal(logs.request.status, "FAILED");
        assert.match(logs.request.reason ?? "", /HTTP 500: OperationOutcome/);
      },
    );

    await t.step("no answer in time is a 504 OperationOutcome", async () => {
      const res = await query(search({ Identifiers: [{ ID: "SLOW", IDType: "HOSP" }] }));
      assert.equal(res.status, 504, res.text);
      assert.equal(res.json.resourceType, "OperationOutcome");
      assert.equal(res.json.issue[0].code, "timeout");
      assert.match(res.json.issue[0].diagnostics, /destination fhir did not answer within 5 s/);
      assert.deepEqual(validateFhirResource(res.json), []);
    });

    await t.step("a query without criteria is a 400 OperationOutcome", async () => {
      const res = await query(search({ Demographics: {} }));
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.resourceType, "OperationOutcome");
      assert.equal(res.json.issue[0].code, "invalid");
      assert.match(res.json.issue[0].diagnostics, /no search criteria/);
    });

    await t.step(
      "a destination that is no FHIR server answers 406, before anything is sent",
      async () => {
        for (const id of ["pdq", "hook"]) {
          const res = await query(to(id, { Identifiers: [{ ID: "0000123", IDType: "HOSP" }] }));
          assert.equal(res.status, 406, `${id}: ${res.text}`);
          assert.equal(res.type, "application/fhir+json");
          assert.equal(res.json.resourceType, "OperationOutcome");
          assert.equal(res.json.issue[0].code, "not-supported");
          assert.match(
            res.json.issue[0].diagnostics,
            new RegExp(`^destination ${id} is not a FHIR server: FHIR answers .* only available`),
          );
        }
        // Without the Accept header the same query goes out (and finds nobody there).
        const plain = await query(to("pdq", { Identifiers: [{ ID: "1", IDType: "HOSP" }] }), "");
        assert.equal(plain.status, 502, plain.text);
        assert.deepEqual(Object.keys(plain.json), ["Meta"]);
      },
    );

    await t.step(
      "the API's own refusals (no token, wrong method) are OperationOutcomes",
      async () => {
        const accept = "application/fhir+json";
        const unauthorized = await fetch(`${api.base}/query`, {
          method: "POST",
          headers: { "content-type": "application/json", accept },
          body: JSON.stringify(search({ Identifiers: [{ ID: "0000123", IDType: "HOSP" }] })),
        });
        assert.equal(unauthorized.status, 401);
        assert.equal(unauthorized.headers.get("content-type"), "application/fhir+json");
        const outcome = await unauthorized.json();
        assert.equal(outcome.issue[0].code, "login");
        assert.match(outcome.issue[0].diagnostics, /no access token/);
        const get = await fetch(`${api.base}/query`, { headers: { accept } });
        assert.equal(get.status, 405);
        assert.equal((await get.json()).resourceType, "OperationOutcome");
      },
    );

    await t.step(
      "an Accept preferring application/json keeps the data model's answer",
      async () => {
        const res = await query(
          search({ Identifiers: [{ ID: "0000123", IDType: "HOSP" }] }),
          "application/json, application/fhir+json;q=0.5",
        );
        assert.equal(res.status, 200, res.text);
        assert.equal(res.type, "application/json");
        assert.equal(res.json.Meta.EventType, "Response");
        assert.equal(res.json.Patient.Demographics.LastName, "BIXBY");
      },
    );
  } finally {
    await e.close();
    httpSender.close();
    await server.close();
  }
});
