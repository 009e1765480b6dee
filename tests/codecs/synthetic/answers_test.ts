import assert from "node:assert/strict";
import { hl7ToQueryResponse, queryToHl7 } from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import {
  answerHl7Query,
  answerJsonSearch,
  createRegistry,
  isPatientQuery,
  MRN_AUTHORITY,
} from "../../../codecs/synthetic/mod.ts";

const registry = createRegistry({ seed: "answers", size: 120 });
const now = new Date(Date.UTC(2025, 2, 1, 12));
const twin = registry.patients[12]!;

function query(patient: Record<string, unknown>) {
  return { Meta: { DataModel: "PatientSearch", EventType: "Query" }, Patient: patient };
}

/** Sends a JSON query the way the engine does (QBP^Q22 or QRY^A19) and reads the answer back. */
function overHl7(patient: Record<string, unknown>, style: "QBP^Q22" | "QRY^A19") {
  const text = queryToHl7(query(patient), { style, controlId: "Q1", queryTag: "T1", now });
  const msg = parseHl7(text);
  assert.ok(isPatientQuery(msg));
  const answer = answerHl7Query(registry, msg, { now, controlId: "R1" });
  const parsed = parseHl7(answer.text);
  assert.equal(parsed.get("MSA-2"), "Q1", "MSA-2 echoes the query's control id");
  return { answer, parsed, response: hl7ToQueryResponse(answer.text, { timeZone: "UTC" }) };
}

for (const style of ["QBP^Q22", "QRY^A19"] as const) {
  Deno.test(`${style}: an identifier finds its one patient, read back as the engine reads it`, () => {
    const p = registry.patients[5]!;
    const { parsed, response } = overHl7({ Identifiers: [{ ID: p.mrn }] }, style);
    assert.equal(parsed.get("MSH-9.1"), style === "QBP^Q22" ? "RSP" : "ADR");
    assert.equal(parsed.get("QAK-2"), "OK");
    assert.deepEqual(response.Meta.Errors, []);
    const found = response.Patient as { Demographics: Record<string, unknown> };
    assert.equal(found.Demographics.LastName, p.lastName);
    assert.equal(found.Demographics.DOB, p.dob);
    assert.deepEqual(response.PotentialMatches, []);
  });

  Deno.test(`${style}: a family name shared by twins gives several matches; an unknown one none`, () => {
    const many = overHl7({ Demographics: { LastName: twin.lastName } }, style);
    assert.equal(many.response.Patient, null);
    assert.ok(many.response.PotentialMatches.length >= 2);
    const none = overHl7({ Demographics: { LastName: "Nobody" } }, style);
    assert.equal(none.parsed.get("QAK-2"), "NF");
    assert.equal(none.response.Patient, null);
    assert.deepEqual(none.response.PotentialMatches, []);
    assert.deepEqual(none.response.Meta.Errors, []);
  });
}

Deno.test("QBP^Q22 by family name and birth date finds exactly the twins", () => {
  const { answer, parsed } = overHl7(
    { Demographics: { LastName: twin.lastName, DOB: twin.dob } },
    "QBP^Q22",
  );
  const expected = registry.patients.filter((p) =>
    p.lastName === twin.lastName && p.dob === twin.dob
  );
  assert.ok(expected.length >= 2);
  assert.equal(answer.matches, expected.length);
  assert.equal(parsed.get("QAK-4"), String(expected.length));
});

Deno.test("a query without criteria is answered AE naming the field", () => {
  const msg = parseHl7(
    "MSH|^~\\&|ENGINE||SIMEHR||20250101||QBP^Q22^QBP_Q21|Q9|P|2.5.1\r" +
      "QPD|Q22^Find Candidates^HL70471|T9|\rRCP|I|10^RD",
  );
  const answer = answerHl7Query(registry, msg, { now, controlId: "R9" });
  const ack = parseHl7(answer.text);
  assert.equal(ack.get("MSA-1"), "AE");
  assert.equal(ack.get("MSA-2"), "Q9");
  assert.match(ack.get("ERR-8") ?? "", /QPD-3 holds no search criteria/);
  const odd = parseHl7(
    "MSH|^~\\&|ENGINE||SIMEHR||20250101||QBP^Q22^QBP_Q21|Q8|P|2.5.1\r" +
      "QPD|Q22^Find Candidates^HL70471|T8|@PID.99^X",
  );
  assert.match(
    parseHl7(answerHl7Query(registry, odd, { now, controlId: "R8" }).text).get("ERR-8") ?? "",
    /@PID.99 is not a supported query field/,
  );
});

Deno.test("JSON PatientSearch: one match in Patient, several in PotentialMatches, problems named", () => {
  const p = registry.patients[3]!;
  const one = answerJsonSearch(
    registry,
    query({ Identifiers: [{ ID: p.mrn, IDType: MRN_AUTHORITY }] }),
    now,
  );
  assert.ok(one.ok);
  assert.equal(one.matches, 1);
  assert.equal(
    (one.response.Patient as { Demographics: { FirstName: string } }).Demographics.FirstName,
    p.firstName,
  );
  const many = answerJsonSearch(
    registry,
    query({ Demographics: { LastName: twin.lastName } }),
    now,
  );
  assert.ok(many.ok && many.matches >= 2);
  assert.equal(many.response.Patient, null);
  const bad = answerJsonSearch(registry, { Meta: { DataModel: "PatientAdmin" } }, now);
  assert.ok(!bad.ok);
  assert.ok(bad.issues.some((i) => i.path === "Meta.DataModel"));
});
