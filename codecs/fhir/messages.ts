/**
 * The message table: for each data model, which data-model objects become which resources,
 * how they are identified (the name of their UUID v5) and how they refer to one another. The
 * bundle builder and reader (bundle.ts) walk it both ways.
 *
 * @module
 */

import type { DataModelName } from "../datamodel/mod.ts";
import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import { MEDIA_DOCUMENT, NOTE_DOCUMENT } from "./resources/documents.ts";
import { SERVICE_REQUEST } from "./resources/orders.ts";
import {
  ALLERGY,
  CONDITION,
  COVERAGE,
  ENCOUNTER,
  MERGED_PATIENT,
  PATIENT,
  RELATED_PERSON,
} from "./resources/patient.ts";
import { DIAGNOSTIC_REPORT, OBSERVATION } from "./resources/results.ts";
import { APPOINTMENT } from "./resources/scheduling.ts";
import type { ResourceMap } from "./rules.ts";

/** What a part's identity may use besides its own object. */
export interface KeyContext {
  /** The identity of the patient (its first identifier). */
  readonly patient: string;
  /** The identity of the parent resource (an order for its results). */
  readonly parent: string;
  /** 0-based position among the part's objects. */
  readonly index: number;
}

/** One kind of resource of a message. */
export interface Part {
  /** Name of the reference other resources use (`Patient`, `Encounter`). */
  readonly name: string;
  /** Data-model path of the object(s), from the root or from the parent part's object. */
  readonly dm: string;
  /** The value at `dm` is an array, one resource per element. */
  readonly many?: boolean;
  readonly map: ResourceMap;
  /** Properties of the object that other parts turn into resources of their own. */
  readonly skip?: readonly string[];
  /** The only properties of the object this part takes (the merged patient's identifiers). */
  readonly only?: readonly string[];
  /** The name of the resource's UUID v5 (`undefined`: the message's, by position). */
  readonly key: (obj: JsonObject, k: KeyContext) => string | undefined;
  /** Listed in `MessageHeader.focus`. */
  readonly focus?: boolean;
  /** Made even when the object is empty (the patient). */
  readonly required?: boolean;
  /** Resources made from inside each object, referenced from this one. */
  readonly children?: readonly Part[];
  /** For a child: the array of the parent resource that references it (`result`). */
  readonly link?: string;
  /** Which resources of the type are this part's, when reading a bundle. */
  readonly select?: (res: JsonObject) => boolean;
}

function s(v: unknown): string {
  return v === undefined || v === null ? "" : String(v);
}

function firstId(obj: JsonObject): string | undefined {
  const ids = obj.Identifiers;
  const first = Array.isArray(ids) ? ids[0] : undefined;
  return isObject(first) && first.ID != null ? `${s(first.IDType)}|${s(first.ID)}` : undefined;
}

function linkType(res: JsonObject): unknown {
  return Array.isArray(res.link) && isObject(res.link[0]) ? res.link[0].type : undefined;
}

const patient: Part = {
  name: "Patient",
  dm: "Patient",
  map: PATIENT,
  skip: ["Contacts", "Allergies", "Diagnoses", "PreviousIdentifiers"],
  key: (o) => (firstId(o) === undefined ? undefined : `Patient|${firstId(o)}`),
  focus: true,
  required: true,
  select: (r) => linkType(r) !== "replaced-by",
};

const encounter: Part = {
  name: "Encounter",
  dm: "Visit",
  map: ENCOUNTER,
  skip: ["Insurances"],
  key: (o, k) => {
    const n = o.VisitNumber ?? o.AccountNumber;
    return n == null ? undefined : `Encounter|${k.patient}|${s(n)}`;
  },
  focus: true,
};

const contacts: Part = {
  name: "RelatedPerson",
  dm: "Patient.Contacts",
  many: true,
  map: RELATED_PERSON,
  key: (o, k) =>
    `RelatedPerson|${k.patient}|${k.index}|${s(o.LastName)}|${s(o.FirstName)}|${
      s(o.RelationToPatient)
    }`,
};

const insurances: Part = {
  name: "Coverage",
  dm: "Visit.Insurances",
  many: true,
  map: COVERAGE,
  key: (o, k) => {
    const plan = isObject(o.Plan) ? o.Plan.ID : undefined;
    return `Coverage|${k.patient}|${s(plan)}|${s(o.MemberNumber ?? o.PolicyNumber ?? k.index)}`;
  },
};

const allergies: Part = {
  name: "AllergyIntolerance",
  dm: "Patient.Allergies",
  many: true,
  map: ALLERGY,
  key: (o, k) => `AllergyIntolerance|${k.patient}|${s(o.Codeset)}|${s(o.Code ?? o.Name)}`,
};

function diagnoses(dm: string, link?: string): Part {
  return {
    name: "Condition",
    dm,
    many: true,
    map: CONDITION,
    key: (o, k) => `Condition|${k.patient}|${k.parent}|${s(o.Codeset)}|${s(o.Code ?? o.Name)}`,
    ...(link ? { link } : {}),
  };
}

const results: Part = {
  name: "Observation",
  dm: "Results",
  many: true,
  map: OBSERVATION,
  link: "result",
  key: (o, k) => `Observation|${k.parent}|${k.index}|${s(o.Codeset)}|${s(o.Code)}`,
};

const orders: Part = {
  name: "DiagnosticReport",
  dm: "Orders",
  many: true,
  map: DIAGNOSTIC_REPORT,
  skip: ["Results"],
  focus: true,
  children: [results],
  key: (o) => {
    const id = o.ID ?? o.ApplicationOrderID;
    return id == null ? undefined : `DiagnosticReport|${s(id)}`;
  },
};

const order: Part = {
  name: "ServiceRequest",
  dm: "Order",
  map: SERVICE_REQUEST,
  skip: ["Diagnoses"],
  focus: true,
  children: [diagnoses("Diagnoses", "reasonReference")],
  key: (o) => {
    const id = o.ID ?? o.ApplicationOrderID;
    return id == null ? undefined : `ServiceRequest|${s(id)}`;
  },
};

const appointment: Part = {
  name: "Appointment",
  dm: "Visit",
  map: APPOINTMENT,
  skip: ["Diagnoses"],
  focus: true,
  required: true,
  children: [diagnoses("Diagnoses", "reasonReference")],
  key: (o) => (o.VisitNumber == null ? undefined : `Appointment|${s(o.VisitNumber)}`),
};

function document(dm: string, map: ResourceMap): Part {
  return {
    name: "DocumentReference",
    dm,
    map,
    focus: true,
    required: true,
    key: (o) => (o.DocumentID == null ? undefined : `DocumentReference|${s(o.DocumentID)}`),
  };
}

/** The patient an A40 merged away (MRG, `Patient.PreviousIdentifiers`), linked by the bundle. */
const merged: Part = {
  name: "MergedPatient",
  dm: "Patient",
  only: ["PreviousIdentifiers"],
  map: MERGED_PATIENT,
  key: (o) => {
    const ids = o.PreviousIdentifiers;
    const first = Array.isArray(ids) ? ids[0] : undefined;
    return isObject(first) && first.ID != null
      ? `Patient|${s(first.IDType)}|${s(first.ID)}`
      : undefined;
  },
  focus: true,
  select: (r) => linkType(r) === "replaced-by",
};

/** The parts of each data model's messages, in bundle order. */
export const MESSAGE_PARTS: Readonly<Record<DataModelName, readonly Part[]>> = {
  PatientAdmin: [
    patient,
    merged,
    encounter,
    contacts,
    insurances,
    allergies,
    diagnoses(
      "Patient.Diagnoses",
    ),
  ],
  Results: [patient, encounter, orders],
  Order: [patient, encounter, insurances, allergies, order],
  Scheduling: [patient, appointment],
  Notes: [patient, encounter, document("Note", NOTE_DOCUMENT)],
  Media: [patient, encounter, document("Media", MEDIA_DOCUMENT)],
};
