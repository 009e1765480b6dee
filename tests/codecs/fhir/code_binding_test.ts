/**
 * A FHIR code outside a required binding (Patient.gender "F") is refused at the element the
 * sender wrote it, not dropped: the R4 validation does not check bindings, so before this the
 * HL7 simply had no PID-8.
 */

import assert from "node:assert/strict";
import {
  FhirError,
  fhirToHl7,
  fhirToVxu,
  hl7ToFhir,
  searchsetToQueryResponse,
  vxuToFhir,
} from "../../../codecs/fhir/mod.ts";
import { ADT_A01, ZONE } from "../datamodel/fixtures.ts";
import { VXU_V04 } from "./vxu_fixture.ts";

// deno-lint-ignore no-explicit-any -- tests edit the bundle in place
type AnyBundle = { entry: { resource: any }[] };

function refusedAt(run: () => unknown, path: string, text: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof FhirError, String(e));
    assert.deepEqual(e.issues.map((i) => i.path), [path]);
    assert.match(e.issues[0]!.text, text);
    return true;
  });
}

Deno.test("fhir: a Patient.gender outside administrative-gender is refused at its FHIRPath, not dropped", () => {
  const bundle = hl7ToFhir(ADT_A01, { timeZone: ZONE }) as unknown as AnyBundle;
  const at = bundle.entry.findIndex((e) => e.resource.resourceType === "Patient");
  bundle.entry[at]!.resource.gender = "F";
  refusedAt(
    () => fhirToHl7(bundle, { timeZone: ZONE }),
    `Bundle.entry[${at}].resource.gender`,
    /"F" is not a code of administrative-gender \(female, male, other, unknown\)/,
  );
  // A code of the binding still gives PID-8.
  bundle.entry[at]!.resource.gender = "male";
  const pid = fhirToHl7(bundle, { timeZone: ZONE }).split("\r").find((s) => s.startsWith("PID|"));
  assert.equal(pid?.split("|")[8], "M");
});

Deno.test("fhir: a V04 bundle's bad Patient.gender is located in the bundle as sent", () => {
  const bundle = vxuToFhir(VXU_V04, { timeZone: ZONE }) as unknown as AnyBundle;
  // Move the Patient to the end, so that its index differs from the inner A31 bundle's.
  const at = bundle.entry.findIndex((e) => e.resource.resourceType === "Patient");
  const [patient] = bundle.entry.splice(at, 1);
  bundle.entry.push(patient!);
  patient!.resource.gender = "Female";
  refusedAt(
    () => fhirToVxu(bundle, { timeZone: ZONE }),
    `Bundle.entry[${bundle.entry.length - 1}].resource.gender`,
    /"Female" is not a code of administrative-gender/,
  );
});

Deno.test("fhir: a search match's gender outside the binding is left out with a warning, not a failed query", () => {
  const answer = searchsetToQueryResponse({
    resourceType: "Bundle",
    type: "searchset",
    entry: [{
      search: { mode: "match" },
      resource: {
        resourceType: "Patient",
        id: "p1",
        gender: "x",
        name: [{ family: "BIXBY", given: ["TOM"] }],
      },
    }],
  });
  const d = answer.Patient?.Demographics as Record<string, unknown> | undefined;
  assert.equal(d?.LastName, "BIXBY");
  assert.equal(d?.Sex, undefined);
  assert.deepEqual(answer.Meta.Errors.map((e) => e.Text), [
    `the FHIR server's Patient p1: gender: "x" is not a code of administrative-gender ` +
    `(female, male, other, unknown); left out`,
  ]);
});
