/**
 * An episode of care for one synthetic patient — the visit, the order, the appointment and the
 * documents an event stream talks about — and the data-model JSON of every event about it. The
 * builders read the episode as it stands: a transfer changes the unit first, a discharge sets
 * its time first, and the message says so.
 *
 * @module
 */

import type { DataModelMessage, EventSpec } from "../datamodel/mod.ts";
import type { Rng } from "./rng.ts";
import { MRN_AUTHORITY, patientJson, type SyntheticPatient } from "./registry.ts";
import {
  APPOINTMENT_REASONS,
  type Clinician,
  CLINICIANS,
  DIAGNOSES,
  type Diagnosis,
  NOTE_TYPES,
  type Panel,
  PANELS,
  PROCEDURES,
  type Unit,
  UNITS,
  VISIT_REASONS,
} from "./vocab.ts";

/** The facility code written in `Meta.FacilityCode` (MSH-4). */
export const FACILITY = "SIMHOSP";

/** Where a patient lies. */
export interface Bed {
  unit: Unit;
  room: string;
  bed: string;
}

/** The visit of an episode. */
export interface VisitState {
  number: string;
  account: string;
  location: Bed;
  /** Where the patient was before the last transfer (for a canceled transfer). */
  previous?: Bed;
  attending: Clinician;
  admitting: Clinician;
  reason: string;
  diagnoses: Diagnosis[];
  start: Date;
  end?: Date;
}

/** The order of an episode: a lab panel or a procedure. */
export interface OrderState {
  id: string;
  placerId: string;
  panel?: Panel;
  procedure?: { code: string; name: string };
  priority: "Routine" | "Stat" | "ASAP";
  provider: Clinician;
  orderedAt: Date;
  collectedAt: Date;
}

/** The appointment of an episode. */
export interface AppointmentState {
  id: string;
  at: Date;
  minutes: number;
  reason: string;
  provider: Clinician;
  unit: Unit;
  room: string;
  status: string;
}

/** Everything the messages of one story talk about. */
export interface Episode {
  patient: SyntheticPatient;
  visit: VisitState;
  order: OrderState;
  appointment: AppointmentState;
  /** A duplicate MRN made at registration, merged away by a PatientMerge. */
  duplicateMrn: string;
  /** The patient is known under {@link Episode.duplicateMrn} only (until the merge). */
  duplicate: boolean;
  documents: number;
}

/** Adds minutes to a date. */
export function plusMinutes(d: Date, minutes: number): Date {
  return new Date(d.getTime() + minutes * 60_000);
}

/** UTC ISO 8601 to the second, as the translator reads date-times back. */
export function iso(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** A bed in `unit`. */
export function bedIn(rng: Rng, unit: Unit): Bed {
  const room = unit.beds[0] === "" ? `EX${rng.int(1, unit.rooms)}` : String(
    rng.int(1, unit.rooms) +
      (unit.department.startsWith("4") ? 400 : unit.department.startsWith("3") ? 300 : 100),
  );
  return { unit, room, bed: rng.pick(unit.beds) };
}

/** A unit of the given class other than `not` (when there is one). */
export function unitOf(rng: Rng, cls: Unit["patientClass"], not?: Unit): Unit {
  const all = UNITS.filter((u) => u.patientClass === cls);
  const others = all.filter((u) => u !== not);
  return rng.pick(others.length > 0 ? others : all);
}

/** A new episode for `patient` starting at `at`, with everything its stories may need. */
export function newEpisode(
  rng: Rng,
  patient: SyntheticPatient,
  at: Date,
  cls: Unit["patientClass"],
): Episode {
  const unit = unitOf(rng, cls);
  const panel = rng.chance(0.75) ? rng.pick(PANELS) : undefined;
  const id = rng.digits(8);
  const collectedAt = plusMinutes(at, rng.int(20, 240));
  const apptUnit = unitOf(rng, "Outpatient");
  return {
    patient,
    visit: {
      number: `V${rng.digits(9)}`,
      account: `A${rng.digits(9)}`,
      location: bedIn(rng, unit),
      attending: rng.pick(CLINICIANS),
      admitting: rng.pick(CLINICIANS),
      reason: rng.pick(VISIT_REASONS),
      diagnoses: [rng.pick(DIAGNOSES)],
      start: at,
    },
    order: {
      id: `ORD${id}`,
      placerId: `PL${id}`,
      ...(panel ? { panel } : { procedure: rng.pick(PROCEDURES) }),
      priority: rng.pick(["Routine", "Routine", "Stat", "ASAP"] as const),
      provider: rng.pick(CLINICIANS),
      orderedAt: plusMinutes(at, rng.int(5, 60)),
      collectedAt,
    },
    appointment: {
      id: `APPT${rng.digits(8)}`,
      at: plusMinutes(at, rng.int(2, 60) * 24 * 60 + rng.int(8, 16) * 60 - at.getUTCHours() * 60),
      minutes: rng.pick([15, 20, 30, 45, 60]),
      reason: rng.pick(APPOINTMENT_REASONS),
      provider: rng.pick(CLINICIANS),
      unit: apptUnit,
      room: `EX${rng.int(1, apptUnit.rooms)}`,
      status: "Booked",
    },
    duplicateMrn: `T${rng.digits(7)}`,
    duplicate: false,
    documents: 0,
  };
}

function clinician(c: Clinician): Record<string, string> {
  return { ID: c.id, IDType: "NPI", LastName: c.lastName, FirstName: c.firstName };
}

function location(b: Bed): Record<string, string> {
  return {
    Department: b.unit.department,
    Room: b.room,
    ...(b.bed ? { Bed: b.bed } : {}),
    Facility: b.unit.facility,
  };
}

function meta(spec: EventSpec, at: Date): DataModelMessage["Meta"] {
  return {
    DataModel: spec.dataModel,
    EventType: spec.eventType,
    ...(spec.canceledEvent ? { CanceledEvent: spec.canceledEvent } : {}),
    EventDateTime: iso(at),
    Test: true,
    FacilityCode: FACILITY,
  };
}

/** What of the patient a data model carries: PatientAdmin all, Notes and Media no PD1 or NK1. */
const PATIENT_PARTS: Readonly<Record<string, { pcp: boolean; contacts: boolean }>> = {
  PatientAdmin: { pcp: true, contacts: true },
  Results: { pcp: true, contacts: false },
  Scheduling: { pcp: true, contacts: false },
  Order: { pcp: true, contacts: false },
  Notes: { pcp: false, contacts: false },
  Media: { pcp: false, contacts: false },
};

function patient(
  e: Episode,
  spec: EventSpec,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const json = patientJson(e.patient);
  if (e.duplicate) json.Identifiers = [{ ID: e.duplicateMrn, IDType: MRN_AUTHORITY }];
  const parts = PATIENT_PARTS[spec.dataModel] ?? { pcp: false, contacts: false };
  if (!parts.pcp) delete json.PCP;
  if (!parts.contacts) delete json.Contacts;
  return { ...json, ...extra };
}

function allergies(e: Episode): Record<string, unknown> {
  if (e.patient.allergies.length === 0) return {};
  return {
    Allergies: e.patient.allergies.map((a) => ({
      Type: { Code: a.type },
      Code: a.code,
      Name: a.name,
      Severity: { Code: a.severity },
      Reaction: [{ Name: a.reaction }],
    })),
  };
}

function diagnoses(list: readonly Diagnosis[], at: Date): Record<string, unknown>[] {
  return list.map((d) => ({
    Code: d.code,
    Codeset: "I10",
    Name: d.name,
    Type: "Working",
    DocumentedDateTime: iso(at),
  }));
}

function visit(e: Episode, spec: EventSpec): Record<string, unknown> {
  const v = e.visit;
  const p = e.patient;
  return {
    VisitNumber: v.number,
    AccountNumber: v.account,
    PatientClass: v.location.unit.patientClass,
    Location: location(v.location),
    AttendingProvider: clinician(v.attending),
    AdmittingProvider: clinician(v.admitting),
    VisitDateTime: iso(v.start),
    ...(v.end ? { DischargeDateTime: iso(v.end), DischargeStatus: { Code: "01" } } : {}),
    Reason: v.reason,
    ...(spec.dataModel === "PatientAdmin"
      ? {
        Guarantor: {
          Number: `G${p.mrn}`,
          FirstName: p.firstName,
          LastName: p.lastName,
          DOB: p.dob,
          Sex: p.sex,
          RelationToPatient: "Self",
          Address: { ...p.address },
          PhoneNumber: { Home: p.homePhone },
        },
        Insurances: [{
          Plan: { ID: p.plan.companyId + "-" + p.plan.type, Name: p.plan.plan, Type: p.plan.type },
          Company: { ID: p.plan.companyId, Name: p.plan.company },
          GroupNumber: `GRP${p.plan.companyId}`,
          MemberNumber: p.memberNumber,
          EffectiveDate: `${v.start.getUTCFullYear()}-01-01`,
          Insured: {
            FirstName: p.firstName,
            LastName: p.lastName,
            Relationship: "Self",
            DOB: p.dob,
          },
        }],
      }
      : {}),
  };
}

function procedureOf(o: OrderState): Record<string, string> {
  return o.panel
    ? { Code: o.panel.code, Codeset: "LN", Description: o.panel.name }
    : { Code: o.procedure!.code, Codeset: "CPT", Description: o.procedure!.name };
}

/** A result value around the normal range: mostly normal, sometimes low or high. */
function resultValue(rng: Rng, a: Panel["analytes"][number]): { value: string; flag: string } {
  const span = a.high - a.low || a.high || 1;
  const roll = rng.next();
  const x = roll < 0.12
    ? a.low - span * (0.05 + rng.next() * 0.3)
    : roll < 0.27
    ? a.high + span * (0.05 + rng.next() * 0.5)
    : a.low + span * rng.next();
  const v = Math.max(0, x);
  const value = v.toFixed(a.decimals);
  const n = Number(value);
  return { value, flag: n < a.low ? "Low" : n > a.high ? "High" : "Normal" };
}

/** A small PDF (text only) naming the document: what a Media message carries. */
function pdf(title: string, lines: readonly string[]): string {
  const text = [title, ...lines].map((l, i) =>
    `BT /F1 ${i === 0 ? 14 : 11} Tf 72 ${720 - i * 18} Td (${
      l.replace(/[()\\]/g, "\\$&").replace(/[^\x20-\x7e]/g, "?")
    }) Tj ET`
  ).join("\n");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R " +
    "/Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let body = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n` +
    offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("") +
    `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return btoa(body);
}

/**
 * The data-model JSON of `spec` about episode `e` at time `at`. `rng` draws what the message
 * adds of its own (result values, note lines); the episode is not changed.
 */
export function buildMessage(
  spec: EventSpec,
  e: Episode,
  at: Date,
  rng: Rng,
): DataModelMessage {
  const m: DataModelMessage = { Meta: meta(spec, at) };
  switch (spec.dataModel) {
    case "PatientAdmin":
      return patientAdmin(m, spec, e);
    case "Results":
      return results(m, spec, e, at, rng);
    case "Scheduling":
      return scheduling(m, spec, e);
    case "Order":
      return order(m, spec, e, at);
    case "Notes":
    case "Media":
      return document(m, spec, e, at, rng);
  }
}

function patientAdmin(m: DataModelMessage, spec: EventSpec, e: Episode) {
  if (spec.eventType === "NewPatient" || spec.eventType === "PatientUpdate") {
    m.Patient = patient(e, spec, allergies(e));
    return m;
  }
  if (spec.eventType === "PatientMerge") {
    m.Patient = patient(e, spec, {
      PreviousIdentifiers: [{ ID: e.duplicateMrn, IDType: MRN_AUTHORITY }],
    });
    return m;
  }
  m.Patient = patient(e, spec, {
    ...allergies(e),
    Diagnoses: diagnoses(e.visit.diagnoses, e.visit.start),
  });
  m.Visit = visit(e, spec);
  return m;
}

function results(m: DataModelMessage, spec: EventSpec, e: Episode, at: Date, rng: Rng) {
  const o = e.order;
  m.Patient = patient(e, spec);
  m.Visit = visit(e, spec);
  const producer = { ID: "SIMLAB", Name: "Simulated Hospital Laboratory", IDType: "CLIA" };
  const results = o.panel
    ? o.panel.analytes.map((a) => {
      const { value, flag } = resultValue(rng, a);
      return {
        Code: a.code,
        Codeset: "LN",
        Description: a.name,
        ValueType: "Numeric",
        Value: value,
        Units: a.units,
        ReferenceRange: { Low: a.low, High: a.high, Text: `${a.low}-${a.high}` },
        AbnormalFlag: flag,
        Status: "Final",
        ObservedDateTime: iso(o.collectedAt),
        Producer: producer,
      };
    })
    : [{
      Code: o.procedure!.code,
      Codeset: "CPT",
      Description: `${o.procedure!.name} impression`,
      ValueType: "Text",
      Value: rng.pick([
        "No acute abnormality.",
        "Findings within normal limits for age.",
        "Mild degenerative change; no acute process.",
      ]),
      Status: "Final",
      ObservedDateTime: iso(o.collectedAt),
      Producer: producer,
    }];
  m.Orders = [{
    ID: o.id,
    ApplicationOrderID: o.placerId,
    Procedure: procedureOf(o),
    CollectionDateTime: iso(o.collectedAt),
    Provider: clinician(o.provider),
    CompletionDateTime: iso(at),
    ResultsStatus: "Final",
    Results: results,
  }];
  return m;
}

function scheduling(m: DataModelMessage, spec: EventSpec, e: Episode) {
  const a = e.appointment;
  m.Patient = patient(e, spec);
  m.Visit = {
    VisitNumber: a.id,
    Reason: a.reason,
    Duration: a.minutes,
    DurationUnits: "min",
    VisitDateTime: iso(a.at),
    Status: a.status,
    PatientClass: "Outpatient",
    Location: { Department: a.unit.department, Room: a.room, Facility: a.unit.facility },
    AttendingProvider: clinician(a.provider),
    VisitProvider: clinician(a.provider),
    Instructions: spec.eventType === "New" || spec.eventType === "Reschedule"
      ? ["Please arrive 15 minutes early.", "Bring a list of current medications."]
      : [],
  };
  if ((m.Visit as { Instructions: string[] }).Instructions.length === 0) {
    delete (m.Visit as { Instructions?: string[] }).Instructions;
  }
  return m;
}

function order(m: DataModelMessage, spec: EventSpec, e: Episode, at: Date) {
  const o = e.order;
  m.Patient = patient(e, spec, allergies(e));
  m.Visit = visit(e, spec);
  const status: Record<string, string> = { New: "SC", Update: "IP", Cancel: "CA" };
  m.Order = {
    ID: o.id,
    ApplicationOrderID: o.placerId,
    Status: status[spec.eventType] ?? "SC",
    Priority: o.priority,
    TransactionDateTime: iso(spec.eventType === "New" ? o.orderedAt : at),
    Provider: clinician(o.provider),
    OrderingFacility: {
      Name: "Simulated Hospital",
      Address: { StreetAddress: "1 Hospital Dr", City: "Madison", State: "WI", ZIP: "53792" },
      PhoneNumber: "(608)555-0100",
    },
    Procedure: procedureOf(o),
    CollectionDateTime: iso(o.collectedAt),
    ...(o.panel ? { Specimen: { Source: o.panel.specimen } } : {}),
    Diagnoses: diagnoses(e.visit.diagnoses.slice(0, 1), o.orderedAt),
    ...(spec.eventType === "Cancel" ? { Notes: ["Canceled by ordering provider."] } : {}),
  };
  return m;
}

function document(m: DataModelMessage, spec: EventSpec, e: Episode, at: Date, rng: Rng) {
  const kind = rng.pick(NOTE_TYPES);
  const id = `DOC${e.patient.mrn}${String(e.documents + 1).padStart(3, "0")}`;
  const base = {
    DocumentType: kind.type,
    ServiceDateTime: iso(e.visit.start),
    Provider: clinician(e.visit.attending),
    DocumentID: id,
    Status: "AU",
    Availability: "Available",
  };
  m.Patient = patient(e, spec);
  m.Visit = {
    VisitNumber: e.visit.number,
    PatientClass: e.visit.location.unit.patientClass,
    Location: location(e.visit.location),
    AttendingProvider: clinician(e.visit.attending),
  };
  if (spec.dataModel === "Notes") {
    m.Note = {
      ...base,
      DocumentationDateTime: iso(at),
      Components: kind.lines.map((line, i) => ({
        ID: String(i + 1),
        Name: i === 0 ? "Summary" : "Detail",
        Value: line,
      })),
    };
  } else {
    m.Media = {
      ...base,
      CreationDateTime: iso(at),
      FileName: `${id}.pdf`,
      DocumentDescription: kind.type,
      FileType: "PDF",
      FileContents: pdf(`${kind.type}: ${e.patient.lastName}, ${e.patient.firstName}`, kind.lines),
    };
  }
  return m;
}
