/**
 * ORU^R01 SPM ⇄ FHIR Specimen: each SPM becomes a Specimen (every field of the table in FHIR
 * elements, a deterministic id, the Patient as subject) that the order's DiagnosticReport and
 * Observations reference; the bundle validates against R4; HL7 → FHIR → HL7 gives the message
 * back; a FHIR app's bundle (no extensions of ours) and an edited Specimen give SPM segments.
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { type FhirBundle, fhirToHl7, fhirToModel, hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { validateFhirBundle } from "../../../codecs/fhir/validate.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { ZONE } from "../datamodel/fixtures.ts";
import { ORU_SPM, SPM_FULL } from "./specimen_fixture.ts";
import { stripOurs } from "./strip.ts";

const opts = { timeZone: ZONE };
// deno-lint-ignore no-explicit-any
type Res = Record<string, any>;

function all(b: FhirBundle, type: string): Res[] {
  return (b.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === type) as Res[];
}

function url(b: FhirBundle, res: Res): string {
  return (b.entry ?? []).find((e) => e.resource === res)?.fullUrl as string;
}

function spms(hl7: string): string[] {
  return hl7.split("\r").filter((s) => s.startsWith("SPM|"));
}

Deno.test("ORU^R01 SPM → Specimen: every mapped field in FHIR elements, referenced, valid R4", () => {
  const b = hl7ToFhir(ORU_SPM, opts);
  deepStrictEqual(validateFhirBundle(b), []);
  const [full, serum, ...more] = all(b, "Specimen");
  equal(more.length, 0);
  deepStrictEqual(full?.identifier, [
    {
      type: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0203", code: "PLAC" }] },
      system: "urn:x-hl7v2-engine:id:LAB",
      value: "SP1",
    },
    {
      type: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0203", code: "FILL" }] },
      system: "urn:x-hl7v2-engine:id:LAB",
      value: "FIL1",
    },
  ]);
  deepStrictEqual(full?.type, {
    coding: [{ system: "http://snomed.info/sct", code: "119297000", display: "Blood specimen" }],
  });
  equal(full?.collection.method.coding[0].code, "129316008");
  equal(full?.collection.bodySite.coding[0].system, "http://snomed.info/sct");
  deepStrictEqual(full?.collection.quantity, {
    value: 5,
    unit: "milliliter",
    system: "http://unitsofmeasure.org",
    code: "mL",
  });
  deepStrictEqual(full?.collection.collectedPeriod, {
    start: "2024-03-15T12:55:00Z",
    end: "2024-03-15T13:00:00Z",
  });
  equal(full?.receivedTime, "2024-03-15T14:00:00Z");
  equal(full?.status, "available");
  equal(full?.condition[0].coding[0].system, "http://terminology.hl7.org/CodeSystem/v2-0493");
  const ext = (u: string) => full?.extension.find((e: Res) => e.url === u)?.valueCodeableConcept;
  equal(
    ext("http://hl7.org/fhir/5.0/StructureDefinition/extension-Specimen.role").coding[0].code,
    "P",
  );
  equal(ext("http://hl7.org/fhir/StructureDefinition/specimen-reject-reason").coding[0].code, "RB");
  // Everything of this SPM is in the table: nothing kept aside.
  ok(!JSON.stringify(full).includes("urn:x-hl7v2-engine:extension:hl7v2"));
  // No CWE-3: the field's table (0487) names the system.
  equal(serum?.type.coding[0].system, "http://terminology.hl7.org/CodeSystem/v2-0487");
  equal(serum?.collection.collectedDateTime, "2024-03-15T13:00:00Z");

  const patient = url(b, all(b, "Patient")[0]!);
  for (const s of [full, serum]) equal(s?.subject.reference, patient);
  const [r1, r2] = all(b, "DiagnosticReport");
  deepStrictEqual(r1?.specimen, [{ reference: url(b, full!) }]);
  deepStrictEqual(r2?.specimen, [{ reference: url(b, serum!) }]);
  const obs = all(b, "Observation");
  equal(obs.length, 3);
  deepStrictEqual(obs.map((o) => o.specimen.reference), [
    url(b, full!),
    url(b, full!),
    url(b, serum!),
  ]);
});

Deno.test("Specimen ids are UUID v5 of SPM-2: the same specimen in another message, the same id", () => {
  const a = all(hl7ToFhir(ORU_SPM, opts), "Specimen").map((s) => s.id);
  const again = all(hl7ToFhir(ORU_SPM.replace("LABSPM1", "LABSPM2"), opts), "Specimen")
    .map((s) => s.id);
  deepStrictEqual(again, a);
  ok(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(a[0]));
  ok(a[0] !== a[1]);
});

Deno.test("ORU^R01 with SPM: HL7 → FHIR → HL7 gives the message back, and the JSON", () => {
  const dm = hl7ToJson(ORU_SPM, opts);
  const b = JSON.parse(JSON.stringify(hl7ToFhir(ORU_SPM, opts)));
  deepStrictEqual(fhirToModel(b, opts), dm);
  const back = fhirToHl7(b, opts);
  equal(back, jsonToHl7(dm, opts));
  deepStrictEqual(spms(back), spms(ORU_SPM));
});

Deno.test("a FHIR app's Specimens (no extensions of ours) become SPM after their order's results", () => {
  const plain = stripOurs(hl7ToFhir(ORU_SPM, opts));
  const lines = fhirToHl7(plain, opts).split("\r");
  const names = lines.map((l) => l.slice(0, 3));
  // Order 1: ORC OBR OBX OBX SPM; order 2: ORC OBR OBX SPM (its SPM had no place of its own).
  deepStrictEqual(names.slice(2), ["ORC", "OBR", "OBX", "OBX", "SPM", "ORC", "OBR", "OBX", "SPM"]);
  // Every field the table maps comes back from FHIR elements alone.
  equal(lines[6], SPM_FULL);
  equal(lines[10], "SPM|1|SP2||SER^Serum^HL70487|||||||||||||20240315080000-0500");
});

Deno.test("an edited Specimen changes its SPM; a Specimen taken out takes its SPM with it", () => {
  const b = hl7ToFhir(ORU_SPM, opts);
  const [full, serum] = all(b, "Specimen");
  full!.type = {
    coding: [{
      system: "http://snomed.info/sct",
      code: "122555007",
      display: "Venous blood specimen",
    }],
  };
  full!.receivedTime = "2024-03-15T15:30:00Z";
  // Taken out with the references to it (a reference to no entry is refused).
  const gone = b.entry?.find((e) => e.resource === serum)?.fullUrl;
  b.entry = b.entry?.filter((e) => e.resource !== serum);
  for (const r of [...all(b, "DiagnosticReport"), ...all(b, "Observation")]) {
    const list = Array.isArray(r.specimen) ? r.specimen : r.specimen ? [r.specimen] : [];
    const kept = list.filter((x: { reference?: string }) => x.reference !== gone);
    if (kept.length === list.length) continue;
    if (Array.isArray(r.specimen) && kept.length > 0) r.specimen = kept;
    else delete r.specimen;
  }
  const out = spms(fhirToHl7(b, opts));
  equal(out.length, 1);
  const spm = parseHl7(`MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1\r${out[0]}`);
  equal(spm.get("SPM-4"), "122555007^Venous blood specimen^SCT");
  equal(spm.get("SPM-18"), "20240315103000-0500");
});
