/**
 * HL7 v2 ⇄ FHIR R4: every fixture becomes a valid message Bundle (R4 base definitions and the
 * US Core Patient profile, with @medplum/core's validator), comes back to the same HL7, keeps its
 * identifiers, names, birth date, codes and values in FHIR itself (not only in the extensions),
 * and gets the same ids for the same patient in every message. A FHIR client's bundle (no
 * extensions of ours) becomes HL7 too.
 */

import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import {
  type FhirBundle,
  FhirError,
  fhirToHl7,
  fhirToModel,
  hl7ToFhir,
  messageToTransaction,
  modelToFhir,
  V2_EVENT_SYSTEM,
} from "../../../codecs/fhir/mod.ts";
import { validateFhirBundle, validateFhirResource } from "../../../codecs/fhir/validate.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, FIXTURES, ORU_R01, ZONE } from "../datamodel/fixtures.ts";
import { stripOurs } from "./strip.ts";

const opts = { timeZone: ZONE };

function resources(b: FhirBundle, type: string): Record<string, unknown>[] {
  return (b.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === type) as Record<
    string,
    unknown
  >[];
}

for (const [name, text] of Object.entries(FIXTURES)) {
  Deno.test(`${name}: a message Bundle that validates against R4 and US Core Patient`, () => {
    const b = hl7ToFhir(text, opts);
    equal(b.type, "message");
    const header = b.entry?.[0]?.resource;
    equal(header?.resourceType, "MessageHeader");
    const coding = header?.eventCoding as { system: string; code: string };
    equal(coding.system, V2_EVENT_SYSTEM);
    equal(coding.code, parseHl7(text).get("MSH-9.2"));
    ok(Array.isArray(header?.focus) && header.focus.length > 0, "focus on the main resources");
    const patient = resources(b, "Patient")[0] as { meta: { profile: string[] } };
    deepStrictEqual(patient.meta.profile, [
      "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient",
    ]);
    deepStrictEqual(validateFhirBundle(b), []);
    // Every fullUrl is urn:uuid:<id> and every reference resolves inside the bundle.
    const urls = new Set((b.entry ?? []).map((e) => e.fullUrl));
    for (const e of b.entry ?? []) equal(e.fullUrl, `urn:uuid:${e.resource?.id}`);
    for (const ref of JSON.stringify(b).matchAll(/"reference":"([^"]+)"/g)) {
      ok(ref[1]?.startsWith("#") || urls.has(ref[1]), `${ref[1]} resolves`);
    }
  });

  Deno.test(`${name}: HL7 → FHIR → HL7 gives the message back, and the JSON`, () => {
    const dm = hl7ToJson(text, opts);
    const b = JSON.parse(JSON.stringify(hl7ToFhir(text, opts)));
    deepStrictEqual(fhirToModel(b, opts), dm);
    equal(fhirToHl7(b, opts), jsonToHl7(dm, opts));
  });

  Deno.test(`${name}: identifiers, names, DOB, codes and values are in FHIR itself`, () => {
    const dm = hl7ToJson(text, opts) as unknown as Record<string, Record<string, unknown>>;
    const plain = fhirToModel(stripOurs(hl7ToFhir(text, opts)), opts) as unknown as Record<
      string,
      Record<string, unknown>
    >;
    const pick = (m: typeof dm) => {
      const p = m.Patient ?? {};
      const d = (p.Demographics ?? {}) as Record<string, unknown>;
      const orders = (m.Orders ?? []) as unknown as Record<string, unknown>[];
      return {
        ids: p.Identifiers,
        previous: p.PreviousIdentifiers,
        name: [d.LastName, d.FirstName, d.MiddleName],
        dob: d.DOB,
        results: orders.map((o) => ({
          id: o.ID,
          code: o.Procedure,
          results: ((o.Results ?? []) as Record<string, unknown>[]).map((r) => ({
            code: [r.Code, r.Codeset, r.Description],
            value: r.Value,
            units: r.Units,
          })),
        })),
        order: m.Order?.ID,
        orderCode: m.Order?.Procedure,
        allergies: ((p.Allergies ?? []) as Record<string, unknown>[]).map((a) => a.Code),
        diagnoses: ((p.Diagnoses ?? []) as Record<string, unknown>[]).map((a) => a.Code),
      };
    };
    deepStrictEqual(pick(plain), pick(dm));
  });
}

Deno.test("the same patient and visit get the same ids in every message; another patient not", () => {
  const a = hl7ToFhir(ADT_A01, opts);
  const again = hl7ToFhir(ADT_A01.replace("MSG0001", "MSG0002").replace("|A01|", "|A08|"), opts);
  const ids = (b: FhirBundle, t: string) => resources(b, t).map((r) => r.id);
  deepStrictEqual(ids(again, "Patient"), ids(a, "Patient"));
  deepStrictEqual(ids(again, "Encounter"), ids(a, "Encounter"));
  ok(ids(a, "MessageHeader")[0] !== ids(again, "MessageHeader")[0], "one header per message");
  const other = hl7ToFhir(ORU_R01, opts);
  ok(ids(other, "Patient")[0] !== ids(a, "Patient")[0]);
  ok(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(
    String(ids(a, "Patient")[0]),
  ));
});

Deno.test("ADT^A01 maps the patient the US Core way: race, ethnicity, gender, telecom", () => {
  const b = hl7ToFhir(ADT_A01, opts);
  const p = resources(b, "Patient")[0] as Record<string, unknown>;
  equal(p.gender, "female");
  equal(p.birthDate, "1980-02-29");
  const race = (p.extension as { url: string; extension: unknown[] }[]).find((e) =>
    e.url.endsWith("us-core-race")
  );
  deepStrictEqual(race?.extension[0], {
    url: "ombCategory",
    valueCoding: { system: "urn:oid:2.16.840.1.113883.6.238", code: "2106-3", display: "White" },
  });
  ok(JSON.stringify(p.telecom).includes('"system":"email","value":"zoe@example.org"'));
  const enc = resources(b, "Encounter")[0] as Record<string, unknown>;
  equal(enc.status, "in-progress");
  deepStrictEqual(enc.class, {
    system: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    code: "IMP",
  });
  equal(resources(b, "RelatedPerson").length, 2);
  equal(resources(b, "Coverage").length, 1);
  equal(resources(b, "AllergyIntolerance").length, 1);
  equal(resources(b, "Condition").length, 2);
});

Deno.test("ORU^R01: numeric results are UCUM quantities, ED data an attachment", () => {
  const b = hl7ToFhir(ORU_R01, opts);
  const obs = resources(b, "Observation");
  deepStrictEqual(obs[0]?.valueQuantity, {
    value: 13.2,
    unit: "g/dL",
    system: "http://unitsofmeasure.org",
    code: "g/dL",
  });
  equal(obs[1]?.valueString, "Yellow");
  ok(JSON.stringify(obs[2]).includes('"valueAttachment":{"data":"SGVsbG8gV29ybGQ="'));
  const report = resources(b, "DiagnosticReport")[0] as { result: unknown[] };
  equal(report.result.length, 3);
});

Deno.test("the validator finds errors, located by FHIRPath, and US Core's required elements", () => {
  const b = hl7ToFhir(ADT_A01, opts);
  const patient = resources(b, "Patient")[0] as Record<string, unknown>;
  // (@medplum/core checks structure, types, formats, cardinality and invariants, not
  // terminology bindings.)
  patient.birthDate = "1980-02-30x";
  patient.nickname = "Zo";
  const issues = validateFhirBundle(b);
  ok(issues.some((i) => i.path === "Bundle.entry[1].resource.birthDate"), JSON.stringify(issues));
  ok(issues.some((i) => i.path === "Bundle.entry[1].resource.nickname"), JSON.stringify(issues));
  delete patient.nickname;
  const noId = { ...patient, birthDate: "1980-02-29", identifier: undefined };
  delete noId.identifier;
  const core = validateFhirResource(noId);
  ok(core.some((i) => i.path.includes("identifier")), JSON.stringify(core));
});

Deno.test("a FHIR client's message bundle (no extensions of ours) becomes HL7 v2", () => {
  const bundle = {
    resourceType: "Bundle",
    type: "message",
    timestamp: "2024-05-01T10:00:00Z",
    entry: [
      {
        fullUrl: "urn:uuid:11111111-1111-4111-8111-111111111111",
        resource: {
          resourceType: "MessageHeader",
          eventCoding: { system: V2_EVENT_SYSTEM, code: "A04" },
          source: { endpoint: "https://app.example.org" },
          focus: [{ reference: "Patient/p1" }],
        },
      },
      {
        fullUrl: "https://app.example.org/Patient/p1",
        resource: {
          resourceType: "Patient",
          id: "p1",
          identifier: [{ system: "urn:x-hl7v2-engine:id:HOSP", value: "777" }],
          name: [{ family: "SMITH", given: ["ANN", "B"] }],
          gender: "female",
          birthDate: "1990-07-04",
        },
      },
    ],
  };
  const hl7 = parseHl7(fhirToHl7(bundle, opts));
  equal(hl7.get("MSH-9.2"), "A04");
  equal(hl7.get("PID-3.1"), "777");
  equal(hl7.get("PID-3.4"), "HOSP");
  equal(hl7.get("PID-5.1"), "SMITH");
  equal(hl7.get("PID-5.3"), "B");
  equal(hl7.get("PID-7"), "19900704");
  equal(hl7.get("PID-8"), "F");
});

Deno.test("a ServiceRequest revoked is an order cancel (ORC-1 CA)", () => {
  const b = hl7ToFhir(FIXTURES.ORM_O01 as string, opts);
  const plain = stripOurs(b);
  // Without the data-model event extension, the event comes from eventCoding and the status.
  const header = plain.entry?.[0]?.resource as Record<string, unknown>;
  delete header.extension;
  const sr = resources(plain, "ServiceRequest")[0] as Record<string, unknown>;
  sr.status = "revoked";
  equal(parseHl7(fhirToHl7(plain, opts)).get("ORC-1"), "CA");
});

Deno.test("refusals name the FHIRPath: not a message, no header, an unknown event", () => {
  const err = (b: unknown) => {
    try {
      fhirToModel(b);
    } catch (e) {
      if (e instanceof FhirError) return e.issues[0]?.path;
      throw e;
    }
    return undefined;
  };
  equal(err({ resourceType: "Patient" }), "Bundle");
  equal(err({ resourceType: "Bundle", type: "collection" }), "Bundle.type");
  equal(err({ resourceType: "Bundle", type: "message", entry: [] }), "Bundle.entry[0].resource");
  equal(
    err({
      resourceType: "Bundle",
      type: "message",
      entry: [{ resource: { resourceType: "MessageHeader", eventCoding: { code: "Z99" } } }],
    }),
    "Bundle.entry[0].resource.eventCoding",
  );
  throws(() => modelToFhir({ Meta: { DataModel: "Nope", EventType: "X" } }), FhirError);
});

Deno.test("a transaction bundle PUTs by identifier, the rest by id, without the header", () => {
  const t = messageToTransaction(hl7ToFhir(ORU_R01, opts));
  equal(t.type, "transaction");
  ok(t.entry?.every((e) => e.resource?.resourceType !== "MessageHeader"));
  const patient = t.entry?.find((e) => e.resource?.resourceType === "Patient");
  deepStrictEqual(patient?.request, {
    method: "PUT",
    url: `Patient?identifier=${encodeURIComponent("urn:x-hl7v2-engine:id:HOSP|500001")}`,
  });
  equal(patient?.resource?.id, undefined);
  const obs = t.entry?.find((e) => e.resource?.resourceType === "Observation");
  equal(obs?.request?.url, `Observation/${obs?.resource?.id}`);
  deepStrictEqual(validateFhirBundle(t), []);
});
