import assert from "node:assert/strict";
import fc from "fast-check";
import { hl7ToQueryResponse, queryToHl7, validateQuery } from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";

const NOW = new Date("2025-03-01T12:00:00Z");

function query(patient: Record<string, unknown>): Record<string, unknown> {
  return { Meta: { DataModel: "PatientSearch", EventType: "Query" }, Patient: patient };
}

const FULL = query({
  Identifiers: [{ ID: "0000123", IDType: "HOSP" }],
  Demographics: {
    LastName: "O|BRIEN",
    FirstName: "ANN",
    MiddleName: "Q",
    DOB: "1980-02-29",
    Sex: "Female",
    SSN: "123-45-6789",
  },
});

Deno.test("a PatientSearch query becomes a QBP^Q22 with one escaped @PID criterion each", () => {
  const hl7 = queryToHl7(FULL, {
    controlId: "Q1",
    sendingApplication: "ENGINE",
    receivingFacility: "HOSP",
    maxResults: 20,
    now: NOW,
  });
  assert.equal(
    hl7,
    [
      "MSH|^~\\&|ENGINE|||HOSP|20250301120000+0000||QBP^Q22^QBP_Q21|Q1|P|2.5.1",
      "QPD|Q22^Find Candidates^HL70471|Q1|@PID.3.1^0000123~@PID.3.4.1^HOSP~" +
      "@PID.5.1.1^O\\F\\BRIEN~@PID.5.2^ANN~@PID.5.3^Q~@PID.7.1^19800229~@PID.8^F~" +
      "@PID.19^123-45-6789",
      "RCP|I|20^RD",
    ].join("\r"),
  );
});

Deno.test("a PatientSearch query becomes a QRY^A19 naming the patient in QRD-8", () => {
  const hl7 = queryToHl7(FULL, { style: "QRY^A19", controlId: "Q2", queryTag: "T2", now: NOW });
  assert.equal(
    hl7,
    [
      "MSH|^~\\&|||||20250301120000+0000||QRY^A19^QRY_A19|Q2|P|2.5.1",
      "QRD|20250301120000+0000|R|I|T2|||50^RD|0000123^O\\F\\BRIEN^ANN|DEM",
    ].join("\r"),
  );
  const byName = queryToHl7(query({ Demographics: { LastName: "DOE" } }), {
    style: "QRY^A19",
    controlId: "Q3",
    now: NOW,
  });
  assert.match(byName, /\|50\^RD\|\^DOE\|DEM$/);
});

Deno.test("query criteria survive HL7 escaping whatever characters they hold", () => {
  const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })
    .map((s) => s.replace(/[\r\n]/g, ""))
    .filter((s) => s.trim() !== "" && s !== '""');
  fc.assert(
    fc.property(text, text, text, (id, last, first) => {
      const hl7 = queryToHl7(
        query({ Identifiers: [{ ID: id }], Demographics: { LastName: last, FirstName: first } }),
        { controlId: "P1", now: NOW },
      );
      const msg = parseHl7(hl7);
      assert.equal(msg.get("QPD-3[1].2"), id);
      assert.equal(msg.get("QPD-3[2].2"), last);
      assert.equal(msg.get("QPD-3[3].2"), first);
    }),
    { numRuns: 200 },
  );
});

Deno.test("a query is checked: model, event, criteria and their types, each with its path", () => {
  assert.deepEqual(validateQuery(FULL), []);
  assert.deepEqual(validateQuery([]), [{ path: "", rule: "not a JSON object" }]);
  assert.deepEqual(validateQuery({ Patient: {} }), [{
    path: "Meta",
    rule: "required (an object)",
  }]);
  const paths = (json: unknown) => validateQuery(json).map((i) => i.path);
  assert.deepEqual(
    paths({
      Meta: { DataModel: "Results", EventType: "New" },
      Patient: { Identifiers: [{ ID: "1" }] },
    }),
    ["Meta.DataModel", "Meta.EventType"],
  );
  assert.deepEqual(paths(query({})), ["Patient"]);
  assert.match(validateQuery(query({}))[0]!.rule, /no search criteria/);
  assert.deepEqual(paths({ Meta: { DataModel: "PatientSearch", EventType: "Query" } }), [
    "Patient",
  ]);
  assert.deepEqual(paths(query({ Demographics: { DOB: "1980-13-01" } })), [
    "Patient.Demographics.DOB",
  ]);
  assert.deepEqual(paths(query({ Demographics: { Sex: "Yes" } })), ["Patient.Demographics.Sex"]);
  assert.deepEqual(paths(query({ Identifiers: { ID: "1" } })), ["Patient.Identifiers", "Patient"]);
  assert.throws(
    () => queryToHl7(query({}), { controlId: "X" }),
    /not a valid query: Patient: no search criteria/,
  );
});

const RSP = [
  "MSH|^~\\&|PDQ|HOSP|ENGINE|X|20250101120000||RSP^K22^RSP_K21|R1|P|2.5.1",
  "MSA|AA|Q1",
  "QAK|Q1|OK|Q22^Find Candidates^HL70471|2",
  "QPD|Q22^Find Candidates^HL70471|Q1|@PID.3.1^123",
  "PID|1||123^^^HOSP^MR~999^^^SSA^SS||O\\F\\BRIEN^ANN||19800229|F|||1 MAIN ST^^MONROE^WI^53566||(608)555-1234^PRN^PH",
  "PD1||||1234^WELBY^MARCUS",
  "NK1|1|O'BRIEN^JOE|SPO",
  "QRI|95",
  "PID|2||456^^^HOSP^MR||O'BRIEN^ANNA||19800301|F",
].join("\r");

Deno.test("an RSP^K22 with several PIDs becomes a PatientSearch.Response with PotentialMatches", () => {
  const r = hl7ToQueryResponse(RSP, { timeZone: "America/Chicago" });
  assert.equal(r.Meta.DataModel, "PatientSearch");
  assert.equal(r.Meta.EventType, "Response");
  assert.equal(r.Meta.EventDateTime, "2025-01-01T18:00:00Z");
  assert.deepEqual(r.Meta.Errors, []);
  assert.equal(r.Patient, null);
  assert.equal(r.PotentialMatches.length, 2);
  assert.deepEqual(r.PotentialMatches[0], {
    Identifiers: [{ ID: "123", IDType: "HOSP" }, { ID: "999", IDType: "SSA" }],
    Demographics: {
      LastName: "O|BRIEN",
      FirstName: "ANN",
      DOB: "1980-02-29",
      Sex: "Female",
      Address: { StreetAddress: "1 MAIN ST", City: "MONROE", State: "WI", ZIP: "53566" },
      PhoneNumber: { Home: "(608)555-1234" },
    },
    PCP: { ID: "1234", LastName: "WELBY", FirstName: "MARCUS" },
    Contacts: [{ LastName: "O'BRIEN", FirstName: "JOE", RelationToPatient: "Spouse" }],
  });
  assert.equal((r.PotentialMatches[1]!.Demographics as Record<string, unknown>).FirstName, "ANNA");
});

Deno.test("no match, a refused query and a bare NAK are told apart in Meta.Errors", () => {
  const nf = hl7ToQueryResponse(
    "MSH|^~\\&|PDQ|H|E|X|20250101||RSP^K22^RSP_K21|R2|P|2.5.1\rMSA|AA|Q1\rQAK|Q1|NF",
  );
  assert.equal(nf.Patient, null);
  assert.deepEqual(nf.PotentialMatches, []);
  assert.deepEqual(nf.Meta.Errors, []);

  const ae = hl7ToQueryResponse(
    "MSH|^~\\&|PDQ|H|E|X|20250101||RSP^K22^RSP_K21|R3|P|2.5.1\rMSA|AA|Q1\r" +
      "ERR||QPD^1^3|206^Application record locked^HL70357|E||||index busy\rQAK|Q1|AE",
  );
  assert.equal(ae.Meta.Errors.length, 1);
  assert.equal(
    ae.Meta.Errors[0]!.Text,
    "the destination could not run the query (QAK-2 AE): index busy; Application record locked",
  );
  assert.equal(ae.Meta.Errors[0]!.Type, "destination");

  const nak = hl7ToQueryResponse(
    "MSH|^~\\&|PDQ|H|E|X|20250101||ACK^Q22^ACK|R4|P|2.5.1\rMSA|AR|Q1|unsupported query",
  );
  assert.equal(nak.Patient, null);
  assert.deepEqual(nak.PotentialMatches, []);
  assert.equal(
    nak.Meta.Errors[0]!.Text,
    "the destination refused the query (MSA-1 AR): unsupported query",
  );

  const odd = hl7ToQueryResponse(
    "MSH|^~\\&|PDQ|H|E|X|20250101||ADT^A08|R5|P|2.5.1\rMSA|AA|Q1\rPID|1||7^^^H",
  );
  // One match is Redox's Patient, not a list.
  assert.deepEqual(odd.Patient, { Identifiers: [{ ID: "7", IDType: "H" }] });
  assert.deepEqual(odd.PotentialMatches, []);
  assert.match(odd.Meta.Errors[0]!.Text, /expected RSP\^K22 or ADR\^A19, got ADT\^A08/);
});
