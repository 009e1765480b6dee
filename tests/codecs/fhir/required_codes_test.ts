/**
 * Codes outside a required binding of FHIR R4 (statuses, priority, allergy category, severity
 * and criticality) are refused at their FHIRPath, as Patient.gender is (code_binding_test.ts):
 * before, the code table gave nothing and the HL7 field was left empty without a word. Codes of
 * the binding the tables had no row for are read where HL7 has a word (amended → corrected), and
 * extensible bindings (marital status) are not refused.
 */

import assert from "node:assert/strict";
import { FhirError, fhirToHl7, hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { ADT_A01, MDM_NOTES, ORM_O01, ORU_R01, SIU_S12, ZONE } from "../datamodel/fixtures.ts";

// deno-lint-ignore no-explicit-any -- tests edit the bundle in place
type AnyRes = any;
type AnyBundle = { entry: { fullUrl?: string; resource: AnyRes }[] };

const opts = { timeZone: ZONE };

interface Case {
  /** The HL7 fixture the bundle is made from. */
  readonly hl7: string;
  readonly type: string;
  /** Path in the resource (as reported after `Bundle.entry[i].resource.`). */
  readonly path: string;
  readonly set: (res: AnyRes) => void;
  readonly text: RegExp;
}

const CASES: readonly Case[] = [
  {
    hl7: ORU_R01,
    type: "Observation",
    path: "status",
    set: (r) => r.status = "done",
    text: /^"done" is not a code of observation-status \(registered, preliminary, final, amended/,
  },
  {
    hl7: ORU_R01,
    type: "DiagnosticReport",
    path: "status",
    set: (r) => r.status = "F",
    text: /^"F" is not a code of diagnostic-report-status \(/,
  },
  {
    hl7: MDM_NOTES,
    type: "DocumentReference",
    path: "status",
    set: (r) => r.status = "active",
    text:
      /^"active" is not a code of document-reference-status \(current, superseded, entered-in-error\)$/,
  },
  {
    hl7: MDM_NOTES,
    type: "DocumentReference",
    path: "docStatus",
    set: (r) => r.docStatus = "AU",
    text: /^"AU" is not a code of composition-status/,
  },
  {
    hl7: ORM_O01,
    type: "ServiceRequest",
    path: "priority",
    set: (r) => r.priority = "high",
    text: /^"high" is not a code of request-priority \(routine, urgent, asap, stat\)$/,
  },
  {
    hl7: ORM_O01,
    type: "ServiceRequest",
    path: "status",
    set: (r) => r.status = "open",
    text: /^"open" is not a code of request-status/,
  },
  {
    hl7: ORM_O01,
    type: "ServiceRequest",
    path: "intent",
    set: (r) => r.intent = "request",
    text: /^"request" is not a code of request-intent/,
  },
  {
    hl7: ADT_A01,
    type: "AllergyIntolerance",
    path: "category[0]",
    set: (r) => r.category = ["drug"],
    text:
      /^"drug" is not a code of allergy-intolerance-category \(food, medication, environment, biologic\)$/,
  },
  {
    hl7: ADT_A01,
    type: "AllergyIntolerance",
    path: "reaction[0].severity",
    set: (r) => r.reaction[0].severity = "SV",
    text: /^"SV" is not a code of reaction-event-severity \(mild, moderate, severe\)$/,
  },
  {
    hl7: ADT_A01,
    type: "AllergyIntolerance",
    path: "criticality",
    set: (r) => r.criticality = "very-high",
    text: /^"very-high" is not a code of allergy-intolerance-criticality/,
  },
  {
    hl7: ADT_A01,
    type: "Encounter",
    path: "status",
    set: (r) => r.status = "admitted",
    text: /^"admitted" is not a code of encounter-status/,
  },
  {
    hl7: ADT_A01,
    type: "Coverage",
    path: "status",
    set: (r) => r.status = 1,
    text: /^1 is not a code of fm-status/,
  },
  {
    hl7: SIU_S12,
    type: "Appointment",
    path: "status",
    set: (r) => r.status = "scheduled",
    text: /^"scheduled" is not a code of appointmentstatus/,
  },
];

Deno.test("fhir: codes outside R4's required bindings are refused at their FHIRPath, not dropped", () => {
  for (const c of CASES) {
    const b = hl7ToFhir(c.hl7, opts) as unknown as AnyBundle;
    const at = b.entry.findIndex((e) => e.resource.resourceType === c.type);
    assert.ok(at > 0, c.type);
    c.set(b.entry[at]!.resource);
    assert.throws(() => fhirToHl7(b, opts), (e: unknown) => {
      assert.ok(e instanceof FhirError, `${c.type}.${c.path}: ${String(e)}`);
      assert.deepEqual(e.issues.map((i) => i.path), [`Bundle.entry[${at}].resource.${c.path}`]);
      assert.match(e.issues[0]!.text, c.text);
      return true;
    }, `${c.type}.${c.path}`);
  }
});

function field(hl7: string, seg: string, n: number): string | undefined {
  return hl7.split("\r").find((s) => s.startsWith(`${seg}|`))?.split("|")[n];
}

Deno.test("fhir: binding codes without a row of their own are read as HL7's nearest word; extensible ones pass", () => {
  const b = hl7ToFhir(ORU_R01, opts) as unknown as AnyBundle;
  const report = b.entry.findIndex((e) => e.resource.resourceType === "DiagnosticReport");
  const obs = b.entry.findIndex((e) => e.resource.resourceType === "Observation");
  b.entry[report]!.resource.status = "appended";
  b.entry[obs]!.resource.status = "amended";
  let hl7 = fhirToHl7(b, opts);
  assert.equal(field(hl7, "OBR", 25), "C");
  assert.equal(field(hl7, "OBX", 11), "C");
  // `unknown` is a code of the binding: no OBX-11 word for it, and no refusal.
  b.entry[obs]!.resource.status = "unknown";
  hl7 = fhirToHl7(b, opts);
  assert.equal(field(hl7, "OBX", 11) ?? "", "");

  // Patient.maritalStatus is extensible: a code of another system is no error.
  const adt = hl7ToFhir(ADT_A01, opts) as unknown as AnyBundle;
  const pat = adt.entry.findIndex((e) => e.resource.resourceType === "Patient");
  adt.entry[pat]!.resource.maritalStatus = {
    coding: [{ system: "urn:example:marital", code: "ZZ" }],
  };
  assert.match(fhirToHl7(adt, opts), /^MSH\|/);
});
