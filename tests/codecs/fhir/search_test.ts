/** FHIR Patient search: the query string of a `PatientSearch.Query`, the searchset read back. */

import assert from "node:assert/strict";
import {
  FhirError,
  outcomeIssuesOf,
  patientSearchParams,
  searchsetAnswer,
  searchsetToQueryResponse,
} from "../../../codecs/fhir/mod.ts";
import { validateFhirBundle } from "../../../codecs/fhir/validate.ts";

const query = (patient: Record<string, unknown>) => ({
  Meta: { DataModel: "PatientSearch", EventType: "Query" },
  Patient: patient,
});

Deno.test("patientSearchParams: identifier system by authority, any system without one, demographics", () => {
  const systems = { identifierSystems: { HOSP: "urn:oid:1.2.3" } };
  const withType = new URLSearchParams(
    patientSearchParams(query({ Identifiers: [{ ID: "123", IDType: "HOSP" }] }), systems),
  );
  assert.deepEqual(withType.getAll("identifier"), ["urn:oid:1.2.3|123"]);
  const unknownAuthority = new URLSearchParams(
    patientSearchParams(query({ Identifiers: [{ ID: "9", IDType: "EPI" }] })),
  );
  assert.deepEqual(unknownAuthority.getAll("identifier"), ["urn:x-hl7v2-engine:id:EPI|9"]);
  const all = new URLSearchParams(patientSearchParams(query({
    Identifiers: [{ ID: "a|b&c" }],
    Demographics: {
      LastName: "O'Neil",
      FirstName: "Ann",
      MiddleName: "B",
      DOB: "1980-02-03",
      Sex: "Female",
      SSN: "123-45-6789",
    },
  })));
  assert.deepEqual(all.getAll("identifier"), [
    "a|b&c",
    "http://hl7.org/fhir/sid/us-ssn|123-45-6789",
  ]);
  assert.equal(all.get("family"), "O'Neil");
  assert.deepEqual(all.getAll("given"), ["Ann", "B"]);
  assert.equal(all.get("birthdate"), "1980-02-03");
  assert.equal(all.get("gender"), "female");
});

Deno.test("searchsetToQueryResponse: matches only, the server's outcome and more pages as warnings", () => {
  const answer = searchsetToQueryResponse({
    resourceType: "Bundle",
    type: "searchset",
    timestamp: "2026-12-04T10:00:00Z",
    total: 3,
    link: [{ relation: "next", url: "https://fhir.example/Patient?page=2" }],
    entry: [
      {
        resource: {
          resourceType: "Patient",
          identifier: [{ system: "urn:oid:1.2.3", value: "1" }],
          name: [{ family: "A" }],
        },
        search: { mode: "match" },
      },
      {
        resource: { resourceType: "Patient", name: [{ family: "B" }] },
        search: { mode: "match" },
      },
      {
        resource: { resourceType: "Patient", name: [{ family: "LINKED" }] },
        search: { mode: "include" },
      },
      {
        resource: {
          resourceType: "OperationOutcome",
          issue: [{ severity: "warning", code: "too-costly", diagnostics: "capped" }],
        },
        search: { mode: "outcome" },
      },
    ],
  }, { identifierSystems: { HOSP: "urn:oid:1.2.3" } });
  assert.equal(answer.Patient, null);
  assert.equal(answer.Meta.EventDateTime, "2026-12-04T10:00:00Z");
  assert.deepEqual(answer.PotentialMatches.map((p) => p.Identifiers), [
    [{ ID: "1", IDType: "HOSP" }],
    undefined,
  ]);
  assert.deepEqual(answer.Meta.Errors.map((e) => e.Text), [
    "the FHIR server said: warning too-costly: capped",
    "the FHIR server found more patients (total 3) than its first page holds; 2 read",
  ]);
});

Deno.test("searchsetToQueryResponse: anything but a searchset Bundle is a FhirError", () => {
  for (const body of [{ resourceType: "OperationOutcome" }, { resourceType: "Bundle" }, [1]]) {
    assert.throws(() => searchsetToQueryResponse(body), FhirError);
  }
  const none = searchsetToQueryResponse({ resourceType: "Bundle", type: "searchset", total: 0 });
  assert.deepEqual(none, {
    Meta: { DataModel: "PatientSearch", EventType: "Response", Errors: [] },
    Patient: null,
    PotentialMatches: [],
  });
});

const BASE = "https://fhir.example/api/R4/";
const patient = (id: string, family: string) => ({
  resourceType: "Patient",
  id,
  meta: { versionId: "3", lastUpdated: "2026-11-30T08:00:00Z" },
  identifier: [{ system: "urn:oid:1.2.3", value: id }],
  name: [{ family }],
  // Not in the data model's Patient table: a FHIR answer keeps it all the same.
  communication: [{ language: { coding: [{ system: "urn:ietf:bcp:47", code: "fr" }] } }],
});

Deno.test("searchsetAnswer: the server's entries and resources as they came, fullUrl and search.mode for each", () => {
  const outcome = {
    resourceType: "OperationOutcome",
    issue: [{ severity: "information", code: "informational", diagnostics: "fuzzy match" }],
  };
  const org = { resourceType: "Organization", id: "o1", name: "Monroe Clinic" };
  const server = {
    resourceType: "Bundle",
    id: "server-bundle",
    type: "searchset",
    timestamp: "2026-12-04T10:00:00Z",
    total: 2,
    link: [{ relation: "self", url: `${BASE}Patient?family=A` }],
    entry: [
      {
        fullUrl: "https://fhir.example/api/R4/Patient/a1",
        resource: patient("a1", "A"),
        search: { mode: "match", score: 0.9 },
      },
      // Relative, and none: made absolute against the server's base.
      { fullUrl: "Patient/a2", resource: patient("a2", "AB") },
      { fullUrl: "urn:uuid:1f0e5b9e-6b5f-4a4e-9f4e-7d0f3c1a2b3c", resource: outcome },
      { resource: org, search: { mode: "include" } },
      { fullUrl: "Patient/nothing" },
    ],
  };
  const before = structuredClone(server);
  const answer = searchsetAnswer(server, { base: BASE.slice(0, -1), id: "log1" });
  assert.deepEqual(server, before, "the server's bundle is not changed");
  assert.deepEqual(answer, {
    resourceType: "Bundle",
    id: "log1",
    type: "searchset",
    timestamp: "2026-12-04T10:00:00Z",
    total: 2,
    entry: [
      {
        fullUrl: "https://fhir.example/api/R4/Patient/a1",
        resource: server.entry[0]!.resource,
        search: { mode: "match", score: 0.9 },
      },
      {
        fullUrl: "https://fhir.example/api/R4/Patient/a2",
        resource: server.entry[1]!.resource,
        search: { mode: "match" },
      },
      {
        fullUrl: "urn:uuid:1f0e5b9e-6b5f-4a4e-9f4e-7d0f3c1a2b3c",
        resource: outcome,
        search: { mode: "outcome" },
      },
      {
        fullUrl: "https://fhir.example/api/R4/Organization/o1",
        resource: org,
        search: { mode: "include" },
      },
    ],
  });
  assert.deepEqual(validateFhirBundle(answer), []);
});

Deno.test("searchsetAnswer: total is the server's, else the matches; more pages are an outcome entry", () => {
  const none = searchsetAnswer({ resourceType: "Bundle", type: "searchset" }, { base: BASE });
  assert.deepEqual(none, { resourceType: "Bundle", type: "searchset", total: 0 });
  assert.deepEqual(validateFhirBundle(none), []);
  const counted = searchsetAnswer({
    resourceType: "Bundle",
    type: "searchset",
    entry: [{ resource: patient("p", "P") }],
  }, { base: BASE });
  assert.equal(counted.total, 1);
  const paged = searchsetAnswer({
    resourceType: "Bundle",
    type: "searchset",
    total: 40,
    link: [{ relation: "next", url: `${BASE}Patient?page=2` }],
    entry: [{ resource: patient("p", "P"), search: { mode: "match" } }],
  }, { base: BASE });
  assert.equal(paged.total, 40);
  assert.equal(paged.link, undefined, "the server's paging URLs need its credentials");
  const entries = paged.entry as Record<string, unknown>[];
  assert.equal(entries.length, 2);
  assert.deepEqual(entries[1], {
    resource: {
      resourceType: "OperationOutcome",
      issue: [{
        severity: "warning",
        code: "incomplete",
        diagnostics: "the FHIR server found more patients (total 40) than its first page " +
          "holds; only the first page (1) is answered",
      }],
    },
    search: { mode: "outcome" },
  });
  assert.deepEqual(validateFhirBundle(paged), []);
  for (const body of [{ resourceType: "OperationOutcome" }, { resourceType: "Bundle" }, null]) {
    assert.throws(() => searchsetAnswer(body, { base: BASE }), FhirError);
  }
});

Deno.test("outcomeIssuesOf: an OperationOutcome's issues as sent, nothing from anything else", () => {
  const issue = { severity: "error", code: "exception", diagnostics: "offline", extra: 1 };
  assert.deepEqual(
    outcomeIssuesOf({ resourceType: "OperationOutcome", issue: [issue, { code: "x" }, 3] }),
    [issue],
  );
  assert.deepEqual(outcomeIssuesOf({ resourceType: "Bundle", issue: [issue] }), []);
  assert.deepEqual(outcomeIssuesOf("text"), []);
});
