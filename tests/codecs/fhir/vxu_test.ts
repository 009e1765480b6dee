/**
 * VXU^V04 ⇄ FHIR R4: a typical VXU (written after the CDC HL7 v2.5.1 immunization IG's
 * examples) becomes a message Bundle (MessageHeader V04, Patient, an Immunization per RXA) that
 * validates against R4 and US Core Patient, with CVX and MVX systems; it comes back to the same
 * HL7; a plain FHIR app's bundle (no extensions of ours) keeps every mapped field.
 */

import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { type FhirBundle, FhirError, V2_EVENT_SYSTEM } from "../../../codecs/fhir/mod.ts";
import { validateFhirBundle } from "../../../codecs/fhir/validate.ts";
import { CVX_SYSTEM, fhirToVxu, MVX_SYSTEM, vxuToFhir } from "../../../codecs/fhir/vxu.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { stripOurs } from "./strip.ts";
import { VXU_V04 } from "./vxu_fixture.ts";

const opts = { timeZone: "America/Chicago" };

type Imm = Record<string, unknown>;

function immunizations(b: FhirBundle): Imm[] {
  return (b.entry ?? []).map((e) => e.resource).filter((r) =>
    r?.resourceType === "Immunization"
  ) as Imm[];
}

/** The bundle's n-th Immunization (the test fails when there is none). */
function immunization(b: FhirBundle, n: number): Imm {
  const imm = immunizations(b)[n];
  ok(imm !== undefined, `no Immunization #${n}`);
  return imm;
}

function firstCode(concept: unknown): unknown {
  return (concept as { coding?: { code?: string }[] } | undefined)?.coding?.[0]?.code;
}

Deno.test("VXU^V04: a message Bundle whose resources all validate (R4, US Core Patient)", () => {
  const b = vxuToFhir(VXU_V04, opts);
  equal(b.type, "message");
  deepStrictEqual(validateFhirBundle(b), []);
  const types = (b.entry ?? []).map((e) => e.resource?.resourceType);
  deepStrictEqual(types, ["MessageHeader", "Patient", "Immunization", "Immunization"]);
  const header = b.entry?.[0]?.resource as Record<string, unknown>;
  deepStrictEqual(header.eventCoding, { system: V2_EVENT_SYSTEM, code: "V04", display: "VXU^V04" });
  const imms = immunizations(b);
  deepStrictEqual(
    header.focus,
    (b.entry ?? []).slice(2).map((e) => ({ reference: e.fullUrl })),
  );
  const patientUrl = b.entry?.[1]?.fullUrl;
  for (const imm of imms) deepStrictEqual(imm.patient, { reference: patientUrl });
});

Deno.test("VXU^V04: RXA and RXR fields in FHIR elements, CVX and MVX systems", () => {
  const b = vxuToFhir(VXU_V04, opts);
  const given = immunization(b, 0), refused = immunization(b, 1);
  equal(given.status, "completed");
  equal(given.occurrenceDateTime, "2013-05-31");
  deepStrictEqual(given.vaccineCode, {
    coding: [{ system: CVX_SYSTEM, code: "48", display: "HIB PRP-T" }],
  });
  deepStrictEqual(given.doseQuantity, {
    value: 0.5,
    code: "mL",
    unit: "milliliter",
    system: "http://unitsofmeasure.org",
  });
  equal(given.lotNumber, "33k2a");
  equal(given.expirationDate, "2013-12-10");
  deepStrictEqual(given.manufacturer, {
    identifier: { system: MVX_SYSTEM, value: "PMC" },
    display: "sanofi",
  });
  equal(given.primarySource, true);
  deepStrictEqual(given.identifier, [{ system: "urn:x-hl7v2-engine:id:CMC", value: "197023" }]);
  deepStrictEqual((given.route as { coding?: unknown[] }).coding?.[0], {
    system: "urn:x-hl7v2-engine:cs:NCIT",
    code: "C28161",
    display: "Intramuscular",
  });
  deepStrictEqual(given.site, {
    coding: [{
      system: "http://terminology.hl7.org/CodeSystem/v2-0163",
      code: "RT",
      display: "Right Thigh",
    }],
  });
  equal(refused.status, "not-done");
  equal(refused.doseQuantity, undefined, "999 is the IG's unknown amount");
  equal(firstCode(refused.statusReason), "00");
  equal(firstCode(refused.vaccineCode), "998");
});

Deno.test("VXU^V04: HL7 → FHIR → HL7 gives the message back", () => {
  const b = vxuToFhir(VXU_V04, opts);
  equal(fhirToVxu(b, opts), VXU_V04);
  // Through JSON, as a destination or the API would carry it.
  equal(fhirToVxu(JSON.parse(JSON.stringify(b)), opts), VXU_V04);
});

Deno.test("VXU^V04: the same ids for the same patient and order in every message", () => {
  const a = vxuToFhir(VXU_V04, opts);
  const b = vxuToFhir(VXU_V04.replace("20130531RI881401010105", "OTHER-CONTROL-ID"), opts);
  deepStrictEqual(
    (a.entry ?? []).slice(1).map((e) => e.fullUrl),
    (b.entry ?? []).slice(1).map((e) => e.fullUrl),
  );
});

Deno.test("VXU^V04: a plain FHIR app's bundle keeps every mapped field", () => {
  const plain = stripOurs(vxuToFhir(VXU_V04, opts));
  const hl7 = parseHl7(fhirToVxu(plain, opts));
  equal(hl7.messageType, "VXU");
  equal(hl7.triggerEvent, "V04");
  equal(hl7.get("MSH-9.3"), "VXU_V04");
  equal(hl7.get("PID-3.1"), "432155");
  equal(hl7.get("PID-5.1"), "Patient");
  equal(hl7.get("PID-7"), "20130414");
  equal(hl7.count("RXA"), 2);
  equal(hl7.count("ORC"), 2);
  const rxa = (path: string) => hl7.getAll(path);
  deepStrictEqual(rxa("ORC-3"), ["197023^CMC", "197027^CMC"]);
  deepStrictEqual(rxa("RXA-3"), ["20130531", "20120814"]);
  deepStrictEqual(rxa("RXA-5"), ["48^HIB PRP-T^CVX", "998^No vaccine administered^CVX"]);
  deepStrictEqual(rxa("RXA-6"), ["0.5", "999"]);
  deepStrictEqual(rxa("RXA-7"), ["mL^milliliter^UCUM", ""]);
  deepStrictEqual(rxa("RXA-15"), ["33k2a", ""]);
  deepStrictEqual(rxa("RXA-16"), ["20131210", ""]);
  deepStrictEqual(rxa("RXA-17"), ["PMC^sanofi^MVX", ""]);
  deepStrictEqual(rxa("RXA-20"), ["CP", "RE"]);
  equal(hl7.get("RXR-1"), "C28161^Intramuscular^NCIT");
  equal(hl7.get("RXR-2"), "RT^Right Thigh^HL70163");
});

Deno.test("VXU^V04: a deleted record (RXA-21 D) is entered-in-error and back", () => {
  const deleted = VXU_V04.replace("|CP|A", "|CP|D");
  const imm = immunization(vxuToFhir(deleted, opts), 0);
  equal(imm.status, "entered-in-error");
  deepStrictEqual(validateFhirBundle(vxuToFhir(deleted, opts)), []);
  const plain = parseHl7(fhirToVxu(stripOurs(vxuToFhir(deleted, opts)), opts));
  equal(plain.get("RXA-21"), "D");
});

Deno.test("VXU^V04: other messages and bundles are refused with a FhirError", () => {
  throws(() => vxuToFhir(VXU_V04.replace("VXU^V04^VXU_V04", "ADT^A01^ADT_A01")), FhirError);
  throws(
    () => vxuToFhir(VXU_V04.split("\r").filter((s) => !s.startsWith("RXA")).join("\r")),
    FhirError,
  );
  throws(() => fhirToVxu({ resourceType: "Bundle", type: "message", entry: [] }), FhirError);
  const b = vxuToFhir(VXU_V04, opts);
  b.entry = (b.entry ?? []).filter((e) => e.resource?.resourceType !== "Immunization");
  throws(() => fhirToVxu(b), FhirError);
});

Deno.test("VXU^V04: an administration time in the facility's zone, valid and back", () => {
  const timed = VXU_V04.replace("|20130531|20130531|48^", "|201305310830|20130531|48^");
  const b = vxuToFhir(timed, opts);
  equal(immunization(b, 0).occurrenceDateTime, "2013-05-31T13:30:00Z");
  deepStrictEqual(validateFhirBundle(b), []);
  equal(fhirToVxu(b, opts), timed);
  const plain = parseHl7(fhirToVxu(stripOurs(b), opts));
  equal(plain.getAll("RXA-3")[0], "20130531083000-0500", "the same instant");
});
