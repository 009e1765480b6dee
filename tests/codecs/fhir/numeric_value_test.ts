/**
 * A Numeric result (OBX-2 NM) in FHIR: `<5` is a Quantity with its comparator, a value that is
 * no number is a valueString; never a valueQuantity with a unit and no value. HL7 → FHIR → HL7
 * still gives the OBX back.
 */

import assert from "node:assert/strict";
import { fhirToHl7, hl7ToFhir } from "../../../codecs/fhir/mod.ts";

const ORU = [
  "MSH|^~\\&|LAB|FAC|EHR|FAC|20240315153000+0000||ORU^R01^ORU_R01|N1|P|2.5.1",
  "PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F",
  "ORC|RE|P1|F1",
  "OBR|1|P1|F1|GLU^Glucose^L|||20240315153000+0000",
  "OBX|1|NM|2345-7^Glucose^LN||<5|mg/dL|||||F",
  "OBX|2|NM|2345-7^Glucose^LN||>= 400|mg/dL|||||F",
  "OBX|3|NM|2345-7^Glucose^LN||12,5|mg/dL|||||F",
  "OBX|4|NM|2345-7^Glucose^LN||13.20|mg/dL|||||F",
].join("\r");

// deno-lint-ignore no-explicit-any -- tests read the bundle's resources
function observations(bundle: any): any[] {
  // deno-lint-ignore no-explicit-any
  return bundle.entry.map((e: any) => e.resource).filter((r: any) =>
    r.resourceType === "Observation"
  );
}

Deno.test("fhir: an NM result with a comparator is a Quantity with comparator; one that is no number a valueString", () => {
  const bundle = hl7ToFhir(ORU, { timeZone: "UTC" });
  const values = observations(bundle).map((o) => o.valueQuantity ?? { string: o.valueString });
  assert.deepEqual(values, [
    {
      comparator: "<",
      value: 5,
      unit: "mg/dL",
      system: "http://unitsofmeasure.org",
      code: "mg/dL",
    },
    {
      comparator: ">=",
      value: 400,
      unit: "mg/dL",
      system: "http://unitsofmeasure.org",
      code: "mg/dL",
    },
    { string: "12,5" },
    { value: 13.2, unit: "mg/dL", system: "http://unitsofmeasure.org", code: "mg/dL" },
  ]);
  assert.equal(fhirToHl7(bundle, { timeZone: "UTC" }), ORU);
});

Deno.test("fhir: a FHIR app's Quantity with comparator becomes the OBX-5 '<5'", () => {
  const bundle = hl7ToFhir(ORU, { timeZone: "UTC" });
  // What an app sends: no extensions of ours on the Observation.
  const obs = observations(bundle)[0];
  delete obs.extension;
  const obx = fhirToHl7(bundle, { timeZone: "UTC" }).split("\r").find((s) =>
    s.startsWith("OBX|1|")
  );
  assert.equal(obx?.split("|")[5], "<5");
});
