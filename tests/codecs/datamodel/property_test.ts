import assert from "node:assert/strict";
import fc from "fast-check";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";

const ZONES = ["UTC", "America/Chicago", "Asia/Tokyo", "Pacific/Kiritimati", "America/St_Johns"];

/**
 * Non-empty text that stresses the encoding: every delimiter, CR/LF, escape look-alikes,
 * non-ASCII and astral characters. (`""` alone is HL7's null, so it is left out.)
 */
const text = fc.array(
  fc.oneof(
    fc.constantFrom("|", "^", "~", "\\", "&", "\r", "\n", "\\F\\", "\\X41\\", "é", "李", "😀", " "),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }),
  ),
  { minLength: 1, maxLength: 6 },
).map((parts) => parts.join("")).filter((s) => s !== '""');

const date = fc.date({
  min: new Date("1900-01-01T00:00:00Z"),
  max: new Date("2099-12-31T00:00:00Z"),
  noInvalidDate: true,
})
  .map((d) => d.toISOString().slice(0, 10));

/** UTC instants with seconds, as the reader writes them. */
const instant = fc.date({
  min: new Date("1950-01-01T00:00:00Z"),
  max: new Date("2090-12-31T00:00:00Z"),
  noInvalidDate: true,
})
  .map((d) => d.toISOString().slice(0, 19) + "Z");

const address = fc.record({
  StreetAddress: text,
  City: text,
  State: text,
  ZIP: text,
  Country: text,
  County: text,
}, { requiredKeys: [] });

const name = { FirstName: text, MiddleName: text, LastName: text };

const phones = fc.record({ Home: text, Office: text, Mobile: text }, { requiredKeys: [] });

const patient = fc.record({
  Identifiers: fc.array(fc.record({ ID: text, IDType: text }, { requiredKeys: ["ID"] }), {
    minLength: 1,
    maxLength: 3,
  }),
  Demographics: fc.record({
    ...name,
    DOB: date,
    SSN: text,
    Sex: fc.constantFrom("Female", "Male", "Unknown", "Other"),
    Race: fc.constantFrom("White", "Asian", "Black or African American", "Other Race"),
    Ethnicity: fc.constantFrom("Hispanic or Latino", "Not Hispanic or Latino"),
    MaritalStatus: fc.constantFrom("Single", "Married", "Divorced", "Widowed"),
    Language: text,
    PhoneNumber: phones,
    EmailAddresses: fc.array(text, { minLength: 1, maxLength: 3 }),
    Address: address,
    IsDeceased: fc.boolean(),
    DeathDateTime: instant,
  }, { requiredKeys: [] }),
  Contacts: fc.array(
    fc.record({
      ...name,
      RelationToPatient: fc.constantFrom("Spouse", "Mother", "Friend"),
      Address: address,
      PhoneNumber: phones,
      EmailAddresses: fc.array(text, { minLength: 1, maxLength: 2 }),
    }, { requiredKeys: ["LastName"] }),
    { maxLength: 3 },
  ),
  Allergies: fc.array(
    fc.record({
      Code: text,
      Name: text,
      Codeset: text,
      Reaction: fc.array(fc.record({ Name: text }), { minLength: 1, maxLength: 2 }),
    }, { requiredKeys: ["Code"] }),
    { maxLength: 2 },
  ),
  Diagnoses: fc.array(
    fc.record({ Code: text, Name: text, Codeset: text, DocumentedDateTime: instant }, {
      requiredKeys: ["Code"],
    }),
    { maxLength: 2 },
  ),
}, { requiredKeys: ["Identifiers"] });

const visit = fc.record({
  VisitNumber: text,
  AccountNumber: text,
  PatientClass: fc.constantFrom("Inpatient", "Outpatient", "Emergency"),
  VisitDateTime: instant,
  DischargeDateTime: instant,
  Location: fc.record({ Department: text, Room: text, Bed: text, Facility: text }, {
    requiredKeys: [],
  }),
  AttendingProvider: fc.record({ ID: text, LastName: text, FirstName: text }, { requiredKeys: [] }),
  Insurances: fc.array(
    fc.record(
      { Plan: fc.record({ ID: text, Name: text }), GroupNumber: text, EffectiveDate: date },
      {
        requiredKeys: ["Plan"],
      },
    ),
    { maxLength: 2 },
  ),
}, { requiredKeys: [] });

/** Drops what a round trip cannot keep the same shape of: empty objects and arrays. */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(prune);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "Extensions") continue;
    const p = prune(x);
    if (typeof p === "object" && p !== null && !Array.isArray(p) && Object.keys(p).length === 0) {
      continue;
    }
    if (Array.isArray(p) && p.length === 0) continue;
    out[k] = p;
  }
  return out;
}

Deno.test("property: generated patients survive JSON → HL7 → JSON unchanged", () => {
  fc.assert(
    fc.property(
      patient,
      fc.option(visit, { nil: undefined }),
      instant,
      fc.constantFrom(...ZONES),
      fc.constantFrom("Arrival", "PatientUpdate", "Discharge"),
      (p, v, when, zone, event) => {
        const json: Record<string, unknown> = {
          Meta: { DataModel: "PatientAdmin", EventType: event, EventDateTime: when, Test: false },
          Patient: p,
          ...(v ? { Visit: v } : {}),
        };
        const hl7 = jsonToHl7(json, { timeZone: zone });
        const back = hl7ToJson(hl7, { timeZone: zone });
        assert.deepEqual(back.Meta.Errors, []);
        delete back.Meta.Errors;
        assert.deepEqual(prune(back), prune(json));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("property: generated results survive JSON → HL7 → JSON unchanged", () => {
  const result = fc.record({
    Code: text,
    Description: text,
    Value: text,
    ValueType: fc.constantFrom("Numeric", "String", "Text"),
    Units: text,
    AbnormalFlag: fc.constantFrom("High", "Low", "Normal"),
    Status: fc.constantFrom("Final", "Preliminary", "Corrected"),
    ObservedDateTime: instant,
    Notes: fc.array(text, { minLength: 1, maxLength: 2 }),
  }, { requiredKeys: ["Code"] });
  const order = fc.record({
    ID: text,
    ApplicationOrderID: text,
    Procedure: fc.record({ Code: text, Description: text }, { requiredKeys: ["Code"] }),
    CollectionDateTime: instant,
    Notes: fc.array(text, { minLength: 1, maxLength: 2 }),
    Results: fc.array(result, { minLength: 1, maxLength: 4 }),
  }, { requiredKeys: ["ID", "Results"] });
  fc.assert(
    fc.property(
      fc.array(order, { minLength: 1, maxLength: 3 }),
      fc.constantFrom(...ZONES),
      (orders, zone) => {
        const json = {
          Meta: { DataModel: "Results", EventType: "New", EventDateTime: "2024-03-15T17:30:00Z" },
          Patient: { Identifiers: [{ ID: "P1" }] },
          Orders: orders,
        };
        const back = hl7ToJson(jsonToHl7(json, { timeZone: zone }), { timeZone: zone });
        delete back.Meta.Errors;
        back.Meta.Test = undefined;
        delete back.Meta.Test;
        assert.deepEqual(prune(back), prune(json));
      },
    ),
    { numRuns: 150 },
  );
});
