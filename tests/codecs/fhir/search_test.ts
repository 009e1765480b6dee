/** FHIR Patient search: the query string of a `PatientSearch.Query`, the searchset read back. */

import assert from "node:assert/strict";
import {
  FhirError,
  patientSearchParams,
  searchsetToQueryResponse,
} from "../../../codecs/fhir/mod.ts";

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
