/**
 * A message bundle the data model cannot hold whole is refused at its FHIRPath, not taken in
 * part: a second Patient (the first was kept, the second dropped), a reference the translation
 * follows (subject, encounter, a report's results) that names no entry of the bundle (the
 * resource was taken for the bundle's patient, the result left out). References the tables read
 * from outside the bundle (a practitioner by display) keep working.
 */

import assert from "node:assert/strict";
import { FhirError, fhirToHl7, fhirToVxu, hl7ToFhir, vxuToFhir } from "../../../codecs/fhir/mod.ts";
import { ADT_A01, ADT_A40, ORM_O01, ORU_R01, ZONE } from "../datamodel/fixtures.ts";
import { VXU_V04 } from "./vxu_fixture.ts";

// deno-lint-ignore no-explicit-any -- tests edit the bundle in place
type AnyBundle = { entry: { fullUrl?: string; resource: any }[] };

const opts = { timeZone: ZONE };

function bundleOf(hl7: string): AnyBundle {
  return hl7ToFhir(hl7, opts) as unknown as AnyBundle;
}

function indexOf(b: AnyBundle, type: string): number {
  return b.entry.findIndex((e) => e.resource.resourceType === type);
}

function refused(run: () => unknown, issues: [path: string, text: RegExp][]): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof FhirError, String(e));
    assert.deepEqual(e.issues.map((i) => i.path), issues.map(([p]) => p));
    issues.forEach(([, text], n) => assert.match(e.issues[n]!.text, text));
    return true;
  });
}

function segment(hl7: string, name: string): string[] {
  return (hl7.split("\r").find((s) => s.startsWith(`${name}|`)) ?? "").split("|");
}

Deno.test("fhir: a second Patient in a message bundle is refused at its entry, not dropped", () => {
  const b = bundleOf(ADT_A01);
  const first = indexOf(b, "Patient");
  const other = structuredClone(b.entry[first]!);
  other.fullUrl = "urn:uuid:11111111-1111-5111-8111-111111111111";
  other.resource.id = "11111111-1111-5111-8111-111111111111";
  other.resource.name[0].family = "OTHER";
  b.entry.push(other);
  refused(() => fhirToHl7(b, opts), [[
    `Bundle.entry[${b.entry.length - 1}].resource`,
    new RegExp(
      `^a second Patient \\(the message is about one patient: Bundle\\.entry\\[${first}\\]\\)$`,
    ),
  ]]);
  // An A40's two Patients (survivor and merged one) are one message's, as before.
  assert.match(fhirToHl7(bundleOf(ADT_A40), opts), /\rMRG\|/);
});

Deno.test("fhir: a subject or encounter reference to no entry of the bundle is refused at the reference", () => {
  const b = bundleOf(ADT_A01);
  const enc = indexOf(b, "Encounter");
  const cond = indexOf(b, "Condition");
  b.entry[enc]!.resource.subject.reference = "Patient/x";
  b.entry[cond]!.resource.encounter = {
    reference: "urn:uuid:00000000-0000-0000-0000-000000000000",
  };
  refused(() => fhirToHl7(b, opts), [
    [
      `Bundle.entry[${enc}].resource.subject.reference`,
      /^"Patient\/x" names no entry of the bundle \(fullUrl or type\/id\)$/,
    ],
    [
      `Bundle.entry[${cond}].resource.encounter.reference`,
      /^"urn:uuid:0{8}-0{4}-0{4}-0{4}-0{12}" names no entry of the bundle/,
    ],
  ]);
});

Deno.test("fhir: a subject naming an entry that is no Patient is refused", () => {
  const b = bundleOf(ADT_A01);
  const enc = indexOf(b, "Encounter");
  const cond = indexOf(b, "Condition");
  b.entry[cond]!.resource.subject.reference = b.entry[enc]!.fullUrl;
  refused(() => fhirToHl7(b, opts), [[
    `Bundle.entry[${cond}].resource.subject.reference`,
    new RegExp(`names an Encounter \\(Bundle\\.entry\\[${enc}\\]\\), not a Patient$`),
  ]]);
});

Deno.test("fhir: references by type/id and by absolute fullUrl resolve; a practitioner outside the bundle still gives its name", () => {
  const made = bundleOf(ORM_O01);
  const pat = indexOf(made, "Patient");
  // The Patient as a server's resource: its absolute URL is its fullUrl, everywhere.
  const url = `https://fhir.example.org/r4/Patient/${made.entry[pat]!.resource.id}`;
  const b = JSON.parse(
    JSON.stringify(made).replaceAll(JSON.stringify(made.entry[pat]!.fullUrl), JSON.stringify(url)),
  ) as AnyBundle;
  const enc = indexOf(b, "Encounter");
  const sr = indexOf(b, "ServiceRequest");
  assert.equal(b.entry[enc]!.resource.subject.reference, url);
  b.entry[sr]!.resource.subject.reference = `Patient/${b.entry[pat]!.resource.id}`;
  b.entry[sr]!.resource.requester = {
    reference: "https://fhir.example.org/r4/Practitioner/123",
    display: "OUTSIDE",
  };
  delete b.entry[sr]!.resource.contained;
  const hl7 = fhirToHl7(b, opts);
  assert.equal(segment(hl7, "PID")[5]?.split("^")[0], "DOE");
  assert.equal(segment(hl7, "ORC")[12]?.split("^")[1], "OUTSIDE");
  // A reference to a Patient that is not in the bundle is not.
  b.entry[sr]!.resource.subject.reference = "Patient/elsewhere";
  refused(() => fhirToHl7(b, opts), [[
    `Bundle.entry[${sr}].resource.subject.reference`,
    /"Patient\/elsewhere" names no entry/,
  ]]);
});

Deno.test("fhir: a DiagnosticReport.result naming no Observation of the bundle is refused, not left out", () => {
  const b = bundleOf(ORU_R01);
  const report = indexOf(b, "DiagnosticReport");
  const results = b.entry[report]!.resource.result as { reference: string }[];
  assert.ok(results.length >= 2);
  const gone = results[1]!.reference;
  b.entry = b.entry.filter((e) => e.fullUrl !== gone);
  refused(() => fhirToHl7(b, opts), [[
    `Bundle.entry[${report}].resource.result[1].reference`,
    /names no entry of the bundle/,
  ]]);
});

Deno.test("fhir: a V04 bundle with a second Patient, or an Immunization.patient naming no entry, is refused", () => {
  const b = vxuToFhir(VXU_V04, opts) as unknown as AnyBundle;
  const first = indexOf(b, "Patient");
  const imm = indexOf(b, "Immunization");
  const other = structuredClone(b.entry[first]!);
  other.fullUrl = "urn:uuid:22222222-2222-5222-8222-222222222222";
  other.resource.id = "22222222-2222-5222-8222-222222222222";
  b.entry.push(other);
  b.entry[imm]!.resource.patient.reference = "Patient/none";
  refused(() => fhirToVxu(b, opts), [
    [`Bundle.entry[${imm}].resource.patient.reference`, /^"Patient\/none" names no entry/],
    [
      `Bundle.entry[${b.entry.length - 1}].resource`,
      new RegExp(
        `^a second Patient \\(the message is about one patient: Bundle\\.entry\\[${first}\\]\\)$`,
      ),
    ],
  ]);
  // Its performer and encounter may be a server's: they are not what RXA is written from.
  b.entry.pop();
  b.entry[imm]!.resource.patient.reference = b.entry[first]!.fullUrl;
  b.entry[imm]!.resource.encounter = { reference: "https://fhir.example.org/r4/Encounter/9" };
  assert.match(fhirToVxu(b, opts), /\rRXA\|/);
});
