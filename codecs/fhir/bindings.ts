/**
 * The FHIR R4 value sets of the required bindings the codec meets, and the check of the coded
 * elements it does not read through a code table (a status the event decides).
 *
 * A required binding's code outside its value set is the sender's error: the conversion refuses
 * it at its FHIRPath (a code table marked `required`, codes.ts; or {@link requiredCodeIssues}),
 * where it used to drop it silently. Extensible and preferred bindings (marital status,
 * encounter class, v2 tables) are not refused.
 *
 * @module
 */

import type { JsonObject } from "../datamodel/json_path.ts";
import type { FhirIssue } from "./errors.ts";

/** A required binding: its value set's name and all its codes (FHIR R4). */
export interface Binding {
  readonly name: string;
  readonly codes: readonly string[];
}

/** Patient.gender. */
export const ADMINISTRATIVE_GENDER: Binding = {
  name: "administrative-gender",
  codes: ["female", "male", "other", "unknown"],
};

/** Observation.status. */
export const OBSERVATION_STATUS: Binding = {
  name: "observation-status",
  codes: [
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
  ],
};

/** DiagnosticReport.status. */
export const DIAGNOSTIC_REPORT_STATUS: Binding = {
  name: "diagnostic-report-status",
  codes: [
    "registered",
    "partial",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "appended",
    "cancelled",
    "entered-in-error",
    "unknown",
  ],
};

/** DocumentReference.status. */
export const DOCUMENT_REFERENCE_STATUS: Binding = {
  name: "document-reference-status",
  codes: ["current", "superseded", "entered-in-error"],
};

/** DocumentReference.docStatus. */
export const COMPOSITION_STATUS: Binding = {
  name: "composition-status",
  codes: ["preliminary", "final", "amended", "entered-in-error"],
};

/** ServiceRequest.priority. */
export const REQUEST_PRIORITY: Binding = {
  name: "request-priority",
  codes: ["routine", "urgent", "asap", "stat"],
};

/** AllergyIntolerance.category. */
export const ALLERGY_INTOLERANCE_CATEGORY: Binding = {
  name: "allergy-intolerance-category",
  codes: ["food", "medication", "environment", "biologic"],
};

/** AllergyIntolerance.reaction.severity. */
export const REACTION_EVENT_SEVERITY: Binding = {
  name: "reaction-event-severity",
  codes: ["mild", "moderate", "severe"],
};

/** AllergyIntolerance.criticality. */
const ALLERGY_INTOLERANCE_CRITICALITY: Binding = {
  name: "allergy-intolerance-criticality",
  codes: ["low", "high", "unable-to-assess"],
};

/** ServiceRequest.status. */
const REQUEST_STATUS: Binding = {
  name: "request-status",
  codes: ["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"],
};

/** ServiceRequest.intent. */
const REQUEST_INTENT: Binding = {
  name: "request-intent",
  codes: [
    "proposal",
    "plan",
    "directive",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
  ],
};

/** Coverage.status. */
const FM_STATUS: Binding = {
  name: "fm-status",
  codes: ["active", "cancelled", "draft", "entered-in-error"],
};

/** Encounter.status. */
const ENCOUNTER_STATUS: Binding = {
  name: "encounter-status",
  codes: [
    "planned",
    "arrived",
    "triaged",
    "in-progress",
    "onleave",
    "finished",
    "cancelled",
    "entered-in-error",
    "unknown",
  ],
};

/** Appointment.status. */
const APPOINTMENT_STATUS: Binding = {
  name: "appointmentstatus",
  codes: [
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
  ],
};

/** Why `value` is outside `binding`. */
export function outsideBinding(value: unknown, binding: Binding): string {
  return `${JSON.stringify(value)} is not a code of ${binding.name} (${binding.codes.join(", ")})`;
}

/**
 * Coded elements with a required binding that the tables write from the event and do not read
 * (so no code table would see a bad one): top-level `code` elements, by resource type.
 */
const UNREAD: Readonly<Record<string, readonly (readonly [string, Binding])[]>> = {
  ServiceRequest: [["status", REQUEST_STATUS], ["intent", REQUEST_INTENT]],
  Encounter: [["status", ENCOUNTER_STATUS]],
  Appointment: [["status", APPOINTMENT_STATUS]],
  AllergyIntolerance: [["criticality", ALLERGY_INTOLERANCE_CRITICALITY]],
  Coverage: [["status", FM_STATUS]],
};

/**
 * The issues of a resource's unread required codes (paths relative to the resource): a value
 * that is not a string of the binding. An absent element is no issue.
 */
export function requiredCodeIssues(res: JsonObject, type: string): FhirIssue[] {
  const rules = UNREAD[type];
  if (rules === undefined) return [];
  const out: FhirIssue[] = [];
  for (const [key, binding] of rules) {
    const v = res[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string" || !binding.codes.includes(v)) {
      out.push({ path: key, text: outsideBinding(v, binding) });
    }
  }
  return out;
}
