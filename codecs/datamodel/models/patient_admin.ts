/**
 * PatientAdmin (ADT): arrivals, transfers, discharges, registrations, pre-admissions, updates,
 * cancels, new patients and merges.
 *
 * @module
 */

import { al1, dg1, EVN, gt1, identifiers, in1, MSH, nk1, PD1, PID, PV1, PV2 } from "./common.ts";
import { type ScopeItem, segment } from "../rules.ts";

/**
 * MRG-1 → the identifiers of the patient merged away (A40, A34), as Redox carries them:
 * `Patient.PreviousIdentifiers`.
 */
const MRG = segment("MRG", "Patient", [identifiers(1, "PreviousIdentifiers")]);

/** ADT segments in the order of the ADT_A01 structure (MRG where A39/A40 have it). */
export const PATIENT_ADMIN: readonly ScopeItem[] = [
  MSH,
  EVN,
  PID,
  PD1,
  MRG,
  nk1("Patient.Contacts"),
  PV1,
  PV2,
  al1("Patient.Allergies"),
  dg1("Patient.Diagnoses"),
  gt1("Visit.Guarantor"),
  in1("Visit.Insurances"),
];
