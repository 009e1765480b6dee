/**
 * Property: for generated ADT^A01 and ORU^R01 messages, HL7 → FHIR → HL7 gives what HL7 → data
 * model → HL7 gives (every mapped field kept), and the patient's identifier, names, birth date,
 * sex and every result's code and value are carried by FHIR elements themselves. An ORU's SPM
 * comes back from its Specimen's elements alone (SPM-2, -4, -17).
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { fhirToHl7, fhirToModel, hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { message, msh, seg, ZONE } from "../datamodel/fixtures.ts";
import { tryHl7ToIso } from "../../../codecs/time/mod.ts";
import { stripOurs } from "./strip.ts";

const opts = { timeZone: ZONE };
const word = fc.stringMatching(/^[A-Z][A-Za-zÀ-ÿ' -]{0,11}[A-Za-z]$/);
const id = fc.stringMatching(/^[A-Z0-9]{1,10}$/);
const date = fc.date({
  min: new Date("1900-01-01"),
  max: new Date("2030-12-31"),
  noInvalidDate: true,
})
  .map((d) => d.toISOString().slice(0, 10).replaceAll("-", ""));
const sex = fc.constantFrom("F", "M", "U", "O", "A", "");
const numeric = fc.oneof(
  fc.integer({ min: -1000, max: 100000 }).map(String),
  fc.double({ min: -1000, max: 1000, noNaN: true }).map((n) => n.toFixed(2)),
);
const obx = fc.oneof(
  fc.record({ t: fc.constant("NM"), v: numeric, u: fc.constantFrom("g/dL", "mg/dL", "%", "") }),
  fc.record({ t: fc.constant("ST"), v: word, u: fc.constant("") }),
  fc.record({ t: fc.constant("CWE"), v: id, u: fc.constant("") }),
);

const specimen = fc.option(
  fc.record({
    id: id,
    type: fc.constantFrom("119297000^Blood specimen^SCT", "SER^Serum^HL70487", "UR^Urine^HL70487"),
    collected: date.map((d) => `${d}0930-0500`),
  }),
  { nil: undefined },
);

const patient = fc.record({
  mrn: id,
  authority: fc.constantFrom("HOSP", "EPI", "NPI"),
  last: word,
  first: word,
  middle: fc.option(word, { nil: "" }),
  dob: date,
  sex,
});

function pid(p: Patient): string {
  return seg("PID", {
    1: "1",
    3: `${p.mrn}^^^${p.authority}^MR`,
    5: [p.last, p.first, p.middle].join("^").replace(/\^+$/, ""),
    7: p.dob,
    8: p.sex,
  });
}

interface Patient {
  mrn: string;
  authority: string;
  last: string;
  first: string;
  middle: string;
  dob: string;
  sex: string;
}

function instant(hl7: string | undefined): number {
  const r = tryHl7ToIso(hl7 ?? "", { timeZone: ZONE });
  return r.ok ? Date.parse(r.value) : NaN;
}

function check(text: string): void {
  const dm = hl7ToJson(text, opts);
  const bundle = JSON.parse(JSON.stringify(hl7ToFhir(text, opts)));
  deepStrictEqual(fhirToModel(bundle, opts), dm);
  equal(fhirToHl7(bundle, opts), jsonToHl7(dm, opts));
  // deno-lint-ignore no-explicit-any
  const plain = fhirToModel(stripOurs(bundle), opts) as unknown as Record<string, any>;
  // deno-lint-ignore no-explicit-any
  const full = dm as unknown as Record<string, any>;
  deepStrictEqual(plain.Patient.Identifiers, full.Patient.Identifiers);
  for (const k of ["LastName", "FirstName", "MiddleName", "DOB"]) {
    equal(plain.Patient.Demographics[k], full.Patient.Demographics[k], k);
  }
  const sexes = ["Female", "Male", "Other", "Unknown"];
  if (sexes.includes(full.Patient.Demographics.Sex)) {
    equal(plain.Patient.Demographics.Sex, full.Patient.Demographics.Sex);
  }
  for (const [i, o] of (full.Orders ?? []).entries()) {
    for (const [j, r] of o.Results.entries()) {
      const back = plain.Orders[i].Results[j];
      equal(back.Code, r.Code);
      // A numeric written as FHIR decimal may lose its text form (1.50 → 1.5), never its value.
      if (r.ValueType === "Numeric") equal(Number(back.Value), Number(r.Value));
      else equal(back.Value, r.Value);
    }
  }
}

Deno.test("property: ADT^A01 patients survive HL7 → FHIR → HL7 and are in FHIR itself", () => {
  fc.assert(
    fc.property(patient, id, (p, visit) => {
      check(message(
        msh("ADT^A01^ADT_A01", "P1"),
        seg("EVN", { 1: "A01", 2: "20240315122900-0500" }),
        pid(p),
        seg("PV1", { 1: "1", 2: "I", 19: visit }),
      ));
    }),
    { numRuns: 60 },
  );
});

Deno.test("property: ORU^R01 results survive HL7 → FHIR → HL7 and are in FHIR itself", () => {
  fc.assert(
    fc.property(
      patient,
      fc.array(obx, { minLength: 1, maxLength: 5 }),
      specimen,
      (p, results, sp) => {
        const spm = sp && seg("SPM", { 1: "1", 2: sp.id, 4: sp.type, 17: sp.collected });
        const text = message(
          msh("ORU^R01^ORU_R01", "P2"),
          pid(p),
          seg("OBR", { 1: "1", 2: "ORD1", 4: "58410-2^CBC^LN", 25: "F" }),
          ...results.map((r, i) =>
            seg("OBX", {
              1: String(i + 1),
              2: r.t,
              3: `${1000 + i}-1^Test^LN`,
              5: r.v,
              6: r.u,
              11: "F",
            })
          ),
          ...(spm ? [spm] : []),
        );
        check(text);
        // The SPM from the Specimen's FHIR elements alone (a FHIR app's bundle): the same ids and
        // type, the same collection instant (written in the facility's zone).
        const plain = fhirToHl7(stripOurs(hl7ToFhir(text, opts)), opts);
        const back = plain.split("\r").filter((l) => l.startsWith("SPM"));
        equal(back.length, spm ? 1 : 0);
        if (spm) {
          const [a, b] = [spm, back[0] as string].map((l) => l.split("|"));
          deepStrictEqual(b?.slice(0, 17), a?.slice(0, 17));
          ok(!Number.isNaN(instant(a?.[17])));
          equal(instant(b?.[17]), instant(a?.[17]));
        }
      },
    ),
    { numRuns: 60 },
  );
});
