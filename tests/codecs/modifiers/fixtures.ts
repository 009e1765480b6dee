/** Payloads shared by the modifier tests: a PatientAdmin and a Results message as JSON. */

import {
  compileModifiers,
  type ModifierList,
  type TranslationSet,
} from "../../../codecs/modifiers/mod.ts";

/** A PatientAdmin Arrival as the translator makes it (abridged). */
export function patientAdmin(): Record<string, unknown> {
  return {
    Meta: { DataModel: "PatientAdmin", EventType: "Arrival", FacilityCode: "HOSP_A" },
    Patient: {
      Identifiers: [{ ID: "123456", IDType: "MR" }, { ID: "987654321", IDType: "SSA" }],
      Demographics: {
        FirstName: "JOHN",
        LastName: "SMITH",
        DOB: "1970-01-01",
        Sex: "1",
        SSN: "123-45-6789",
        Address: { StreetAddress: "1 MAIN ST", City: "MADISON" },
      },
    },
    Visit: { VisitNumber: "V1", PatientClass: "Inpatient" },
    Extensions: { HL7v2: { Fields: { "PID-2": "MRN77" } } },
  };
}

/** A Results message with two orders of two results each. */
export function results(): Record<string, unknown> {
  return {
    Meta: { DataModel: "Results", EventType: "New" },
    Patient: { Identifiers: [{ ID: "500000", IDType: "MR" }] },
    Orders: [
      {
        ID: "ORD1",
        Results: [
          { Code: "HGB", Codeset: "L", Value: "13.5" },
          { Code: "GLU", Codeset: "L", Value: "99" },
        ],
      },
      {
        ID: "ORD2",
        Results: [{ Code: "NA", Codeset: "L", Value: "140" }, { Code: "XX", Value: "1" }],
      },
    ],
  };
}

/** A set built in code. */
export function set(
  name: string,
  entries: Record<string, string>,
  onMissing: TranslationSet["onMissing"] = "pass",
  extra: { default?: string; version?: number } = {},
): TranslationSet {
  return {
    name,
    version: extra.version ?? 0,
    entries: new Map(Object.entries(entries)),
    onMissing,
    ...(extra.default !== undefined ? { default: extra.default } : {}),
  };
}

/** Compiles a list that must be valid (throws with the problems otherwise). */
export function compiled(raw: unknown, sets: string[] = []): ModifierList {
  const c = compileModifiers(raw, { translationSets: new Set(sets), inputs: new Set(["env"]) });
  if (!c.ok) throw new Error(JSON.stringify(c.problems));
  return c.list;
}
