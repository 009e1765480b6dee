/**
 * A structured numeric result (OBX-2 SN) in FHIR: `>^500`, `<^5` are a valueQuantity with its
 * comparator, `^10^-^20` a valueRange, `^2^:^3` a valueRatio; never a valueString holding only
 * the comparator. The bundle is R4-valid, HL7 → FHIR → HL7 gives the OBX back, and an app's
 * Range or Ratio (without our extensions) becomes an SN OBX.
 */

import assert from "node:assert/strict";
import { fhirToHl7, hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { validateFhirBundle } from "../../../codecs/fhir/validate.ts";

const ORU = [
  "MSH|^~\\&|LAB|FAC|EHR|FAC|20240315153000+0000||ORU^R01^ORU_R01|N1|P|2.5.1",
  "PID|1||MRN1^^^HOSP^MR||DOE^JANE||19800101|F",
  "ORC|RE|P1|F1",
  "OBR|1|P1|F1|GLU^Glucose^L|||20240315153000+0000",
  "OBX|1|SN|2345-7^Glucose^LN||>^500|mg/dL||HH|||F",
  "OBX|2|SN|2345-7^Glucose^LN||<^5|mg/dL|||||F",
  "OBX|3|SN|X^Range^L||^10^-^20|mg/dL|||||F",
  "OBX|4|SN|X^Titer^L||^2^:^3||||||F",
].join("\r");

const UCUM = "http://unitsofmeasure.org";

// deno-lint-ignore no-explicit-any -- tests read the bundle's resources
function observations(bundle: any): any[] {
  // deno-lint-ignore no-explicit-any
  return bundle.entry.map((e: any) => e.resource).filter((r: any) =>
    r.resourceType === "Observation"
  );
}

Deno.test("fhir: SN results are a Quantity with comparator, a Range or a Ratio, and come back as SN", () => {
  const bundle = hl7ToFhir(ORU, { timeZone: "UTC" });
  const values = observations(bundle).map((o) => {
    const { valueQuantity, valueRange, valueRatio, valueString } = o;
    return { valueQuantity, valueRange, valueRatio, valueString };
  }).map((v) => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)));
  const mgdl = { unit: "mg/dL", system: UCUM, code: "mg/dL" };
  assert.deepEqual(values, [
    { valueQuantity: { comparator: ">", value: 500, ...mgdl } },
    { valueQuantity: { comparator: "<", value: 5, ...mgdl } },
    { valueRange: { low: { value: 10, ...mgdl }, high: { value: 20, ...mgdl } } },
    { valueRatio: { numerator: { value: 2 }, denominator: { value: 3 } } },
  ]);
  assert.deepEqual(validateFhirBundle(bundle), []);
  assert.equal(fhirToHl7(bundle, { timeZone: "UTC" }), ORU);
});

Deno.test("fhir: an app's valueRange and valueRatio become SN OBX values", () => {
  const bundle = hl7ToFhir(ORU, { timeZone: "UTC" });
  // What an app sends: no extensions of ours on the Observations.
  for (const o of observations(bundle)) delete o.extension;
  const obx = fhirToHl7(bundle, { timeZone: "UTC" }).split("\r").filter((s) =>
    s.startsWith("OBX|")
  );
  assert.deepEqual(obx.slice(2).map((s) => s.split("|").slice(2, 7).join("|")), [
    "SN|X^Range^L||^10^-^20|mg/dL",
    "SN|X^Titer^L||^2^:^3|",
  ]);
});
