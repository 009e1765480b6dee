/**
 * The patient and the visit: Patient (US Core), Encounter, RelatedPerson (NK1), Coverage (IN1),
 * AllergyIntolerance (AL1) and Condition (DG1, an encounter diagnosis).
 *
 * @module
 */

import {
  ADMINISTRATIVE_GENDER,
  ALLERGY_INTOLERANCE_CATEGORY,
  REACTION_EVENT_SEVERITY,
} from "../bindings.ts";
import { getPath, isObject, type JsonObject, setPath } from "../../datamodel/json_path.ts";
import { DIAGNOSIS_TYPE, ETHNICITY, RACE, RELATIONSHIP } from "../../datamodel/models/common.ts";
import {
  code,
  type Conv,
  date,
  dateTime,
  idSystem,
  LOCAL_ID_SYSTEM,
  SSN_SYSTEM,
  v2Concept,
} from "../codes.ts";
import { readFhir } from "../fhir_path.ts";
import {
  dmUnder,
  each,
  fixed,
  type FnRule,
  type MapContext,
  path,
  type ResourceMap,
} from "../rules.ts";
import {
  address,
  concept,
  contained,
  humanName,
  LOCATION,
  ORGANIZATION,
  participant,
  practitioner,
  refTo,
  telecom,
} from "./common.ts";

const US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/";
const OMB = "urn:oid:2.16.840.1.113883.6.238";

/** HL7 0001 (data-model words) ⇄ FHIR administrative-gender. */
export const GENDER: Conv = code([
  ["Female", "female"],
  ["Male", "male"],
  ["Other", "other"],
  ["Unknown", "unknown"],
], { otherwise: "unknown", required: ADMINISTRATIVE_GENDER });

/** HL7 0002 (data-model words) ⇄ v3 MaritalStatus. */
export const MARITAL: Conv = conceptOf("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", [
  ["Single", "S"],
  ["Married", "M"],
  ["Divorced", "D"],
  ["Widowed", "W"],
  ["Separated", "L"],
  ["Domestic Partner", "T"],
  ["Unknown", "UNK"],
]);

/** A code table as a CodeableConcept of one system (codes outside the table are not written). */
function conceptOf(system: string, pairs: readonly (readonly [string, string])[]): Conv {
  const inner = code(pairs);
  // The path is made once, not on every read (a read then finds it parsed).
  const codeAt = `coding[system=${system}].code`;
  return {
    toFhir: (v, ctx) => {
      const c = inner.toFhir(v, ctx);
      return c === undefined ? undefined : { coding: [{ system, code: c }] };
    },
    toDm: (v, ctx) => {
      const c = readFhir(v, codeAt);
      return c === undefined ? undefined : inner.toDm(c, ctx);
    },
  };
}

/** HL7 0004 patient class (data-model words) ⇄ v3 ActCode encounter class. */
const ENCOUNTER_CLASS: Conv = (() => {
  const system = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
  const inner = code([
    ["Inpatient", "IMP"],
    ["Outpatient", "AMB"],
    ["Emergency", "EMER"],
    ["Preadmit", "PRENC"],
    ["Obstetrics", "IMP"],
    ["Recurring", "AMB"],
  ]);
  return {
    toFhir: (v, ctx) => {
      const c = inner.toFhir(v, ctx);
      return c === undefined ? undefined : { system, code: c };
    },
    toDm: (v, ctx) => (isObject(v) && v.system === system ? inner.toDm(v.code, ctx) : undefined),
  };
})();

/** A US Core race or ethnicity extension from a data-model word of a CDC code table. */
function ombExtension(
  dm: string,
  url: string,
  table: { toHl7(v: string): string | undefined; toJson(c: string): unknown },
): FnRule {
  const extAt = `extension[url=${url}]`;
  return {
    kind: "fn",
    toFhir(obj, res) {
      const v = getPath(obj, dm);
      if (typeof v !== "string" || v === "") return;
      const c = table.toHl7(v);
      const ext: JsonObject[] = [];
      // ombCategory is bound to the OMB codes: a code outside the table goes in text only.
      if (c !== undefined && /^\d{4}-\d$/.test(c)) {
        ext.push({ url: "ombCategory", valueCoding: { system: OMB, code: c, display: v } });
      }
      ext.push({ url: "text", valueString: v });
      const list = Array.isArray(res.extension) ? res.extension : (res.extension = []);
      (list as unknown[]).push({ url, extension: ext });
    },
    toDm(res, obj) {
      const ext = readFhir(res, extAt);
      if (!isObject(ext) || !Array.isArray(ext.extension)) return;
      const omb = readFhir(ext, "extension[url=ombCategory].valueCoding.code");
      const text = readFhir(ext, "extension[url=text].valueString");
      const v = typeof omb === "string" ? table.toJson(omb) ?? text : text;
      if (typeof v === "string") setPath(obj, dm, v);
    },
  };
}

const NOT_DEAD_YET = {
  toFhir: (obj: JsonObject) => getPath(obj, "Demographics.DeathDateTime") == null,
  toDm: () => true,
};

/** Patient (PID, PD1) → US Core Patient. */
export const PATIENT: ResourceMap = {
  resourceType: "Patient",
  profile: `${US_CORE}us-core-patient`,
  rules: [
    each("Identifiers", "identifier", [
      path("ID", "value"),
      path("IDType", "system", idSystem),
    ], { skip: (e) => e.system === SSN_SYSTEM }),
    ...dmUnder("Demographics.Address", address("address[0]")),
    ...dmUnder("Demographics", [
      path("SSN", `identifier[system=${SSN_SYSTEM}].value`),
      ...humanName("name[0]"),
      path("Sex", "gender", GENDER),
      path("DOB", "birthDate", date),
      ...telecom(),
      path("Language", "communication[0].language", v2Concept("urn:ietf:bcp:47")),
      path("MaritalStatus", "maritalStatus", MARITAL),
      path("DeathDateTime", "deceasedDateTime", dateTime),
      path("IsDeceased", "deceasedBoolean", undefined, NOT_DEAD_YET),
    ]),
    // US Core requires a gender: "unknown" when the message has none.
    fixed("gender", (o) => getPath(o, "Demographics.Sex") == null ? "unknown" : undefined),
    ombExtension("Demographics.Race", `${US_CORE}us-core-race`, RACE),
    ombExtension("Demographics.Ethnicity", `${US_CORE}us-core-ethnicity`, ETHNICITY),
    practitioner("PCP", { fx: "generalPractitioner[0]" }),
  ],
};

/** The patient an A40 merged away (MRG): its identifiers; its link is added by the bundle. */
export const MERGED_PATIENT: ResourceMap = {
  resourceType: "Patient",
  rules: [
    each("PreviousIdentifiers", "identifier", [
      path("ID", "value"),
      path("IDType", "system", idSystem),
    ]),
    fixed("active", () => false),
  ],
};

/** Encounter.status by data-model event (and the visit's own times where the event is neutral). */
function encounterStatus(obj: JsonObject, ctx: MapContext): string {
  switch (ctx.eventType) {
    case "Arrival":
    case "Transfer":
      return "in-progress";
    case "Discharge":
      return "finished";
    case "Registration":
      return "arrived";
    case "PreAdmit":
      return "planned";
    case "Cancel":
      return "cancelled";
  }
  if (obj.DischargeDateTime != null) return "finished";
  return obj.VisitDateTime != null ? "in-progress" : "unknown";
}

/** The visit (PV1, PV2) → Encounter. */
export const ENCOUNTER: ResourceMap = {
  resourceType: "Encounter",
  rules: [
    path("VisitNumber", `identifier[system=${LOCAL_ID_SYSTEM}visit-number].value`),
    path("AccountNumber", `identifier[system=${LOCAL_ID_SYSTEM}account-number].value`),
    fixed("status", encounterStatus),
    path("PatientClass", "class", ENCOUNTER_CLASS),
    fixed(
      "class",
      (o) =>
        ENCOUNTER_CLASS.toFhir(o.PatientClass, undefined as never) === undefined
          ? { system: "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", code: "UNK" }
          : undefined,
    ),
    refTo("subject", "Patient"),
    path("VisitDateTime", "period.start", dateTime),
    path("DischargeDateTime", "period.end", dateTime),
    path("Reason", "reasonCode[0].text"),
    path(
      "DischargeStatus.Code",
      "hospitalization.dischargeDisposition.coding[0].code",
    ),
    fixed(
      "hospitalization.dischargeDisposition.coding[0].system",
      (o) =>
        getPath(o, "DischargeStatus.Code") == null
          ? undefined
          : "http://terminology.hl7.org/CodeSystem/v2-0112",
    ),
    practitioner("AttendingProvider", participant("ATND")),
    practitioner("ReferringProvider", participant("REF")),
    practitioner("ConsultingProvider", participant("CON")),
    practitioner("AdmittingProvider", participant("ADM")),
    contained("Location", LOCATION, {
      fx: "location",
      element: (ref) => ({ location: ref }),
      refAt: "location",
    }, "Department"),
  ],
};

/** A contact (NK1) → RelatedPerson. */
export const RELATED_PERSON: ResourceMap = {
  resourceType: "RelatedPerson",
  rules: [
    refTo("patient", "Patient"),
    ...humanName("name[0]"),
    path(
      "RelationToPatient",
      "relationship[0]",
      v2Concept("http://terminology.hl7.org/CodeSystem/v2-0063", RELATIONSHIP),
    ),
    ...dmUnder("Address", address("address[0]")),
    ...telecom(),
  ],
};

const COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class";

/** The subscriber relationship (HL7 0063 words) ⇄ FHIR subscriber-relationship. */
const SUBSCRIBER: Conv = conceptOf(
  "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
  [["Self", "self"], ["Spouse", "spouse"], ["Child", "child"], ["Parent", "parent"]],
);

/** An insurance (IN1) → Coverage. */
export const COVERAGE: ResourceMap = {
  resourceType: "Coverage",
  rules: [
    fixed("status", () => "active"),
    path("MemberNumber", `identifier[system=${LOCAL_ID_SYSTEM}member-number].value`),
    path("PolicyNumber", "subscriberId"),
    refTo("beneficiary", "Patient"),
    contained("Company", ORGANIZATION, { fx: "payor[0]" }, "Name"),
    // A payor is required: without a company the plan's name stands for it.
    fixed(
      "payor",
      (o) =>
        isObject(o.Company)
          ? undefined
          : [{ display: String(getPath(o, "Plan.Name") ?? "unknown") }],
    ),
    path("Plan.Type", "type.text"),
    each("", "class", [path("Plan.ID", "value"), path("Plan.Name", "name")], {
      fixed: { type: { coding: [{ system: COVERAGE_CLASS, code: "plan" }] } },
    }),
    each("", "class", [path("GroupNumber", "value"), path("GroupName", "name")], {
      fixed: { type: { coding: [{ system: COVERAGE_CLASS, code: "group" }] } },
    }),
    path("EffectiveDate", "period.start", date),
    path("ExpirationDate", "period.end", date),
    path("Insured.Relationship", "relationship", SUBSCRIBER),
  ],
};

const ALLERGY_CATEGORY = code([
  ["DA", "medication"],
  ["FA", "food"],
  ["EA", "environment"],
  ["AA", "environment"],
  ["PA", "environment"],
], { required: ALLERGY_INTOLERANCE_CATEGORY });

const SEVERITY = code([["SV", "severe"], ["MO", "moderate"], ["MI", "mild"]], {
  required: REACTION_EVENT_SEVERITY,
});

/** An allergy (AL1) → AllergyIntolerance (with the elements US Core requires). */
export const ALLERGY: ResourceMap = {
  resourceType: "AllergyIntolerance",
  rules: [
    fixed("clinicalStatus", () => ({
      coding: [{
        system: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        code: "active",
      }],
    })),
    refTo("patient", "Patient"),
    ...concept("code", "Name"),
    // US Core requires a code: an allergy without one keeps its text.
    fixed("code.text", (o) => o.Code == null && o.Name == null ? "unknown" : undefined),
    path("Type.Code", "category[0]", ALLERGY_CATEGORY),
    path("Severity.Code", "reaction[0].severity", SEVERITY),
    each("Reaction", "reaction[0].manifestation", [path("Name", "text")]),
    path("OnsetDateTime", "onsetDateTime", dateTime),
  ],
};

/** A diagnosis (DG1) → Condition (an encounter diagnosis, with US Core's required elements). */
export const CONDITION: ResourceMap = {
  resourceType: "Condition",
  rules: [
    fixed("category[0]", () => ({
      coding: [{
        system: "http://terminology.hl7.org/CodeSystem/condition-category",
        code: "encounter-diagnosis",
      }],
    })),
    path(
      "Type",
      "category[1]",
      v2Concept("http://terminology.hl7.org/CodeSystem/v2-0052", DIAGNOSIS_TYPE),
    ),
    ...concept("code", "Name"),
    fixed("code.text", (o) => o.Code == null && o.Name == null ? "unknown" : undefined),
    refTo("subject", "Patient"),
    refTo("encounter", "Encounter"),
    path("DocumentedDateTime", "recordedDate", dateTime),
  ],
};
