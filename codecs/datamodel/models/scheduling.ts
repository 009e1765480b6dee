/**
 * Scheduling (SIU): new, rescheduled, modified, canceled and no-show appointments.
 *
 * @module
 */

import {
  asFallback,
  leaf,
  type ScopeItem,
  segment,
  under,
  withFallbacks,
  within,
  without,
} from "../rules.ts";
import { dg1, location, MSH, nte, PD1, PID, providerAt, PV1 } from "./common.ts";

/** SCH → the appointment. */
const SCH = segment("SCH", "Visit", [
  leaf("VisitNumber", "1"),
  leaf("Reason", "7.2"),
  leaf("Duration", "9", { t: "number" }),
  leaf("DurationUnits", "10"),
  leaf("VisitDateTime", "11.4", { t: "datetime" }),
  leaf("Status", "25"),
], { required: true });

/**
 * TQ1 → the appointment's start (TQ1-7), where HL7 v2.5+ puts it (SCH-11 is kept for backward
 * compatibility only). Read when SCH-11.4 is empty; written only into a message that had TQ1-7,
 * so SIUs without TQ1 come back without it.
 */
const TQ1 = segment(
  "TQ1",
  "Visit",
  asFallback([leaf("VisitDateTime", "7", { t: "datetime" })], "kept"),
);

/** SIU_S12: the appointment, its notes, the patient, the visit and the first resources. */
export const SCHEDULING: readonly ScopeItem[] = [
  MSH,
  SCH,
  TQ1,
  nte("Visit.Instructions"),
  PID,
  PD1,
  // The appointment's own number, time and reason are in SCH: PV1 holds the visit's.
  withFallbacks(without(PV1, ["VisitDateTime", "DischargeDateTime"]), ["VisitNumber"]),
  dg1("Visit.Diagnoses"),
  segment("AIS", "Visit", asFallback([leaf("VisitDateTime", "4", { t: "datetime" })])),
  segment("AIL", "Visit", asFallback(within("Location", under(3, location())))),
  segment("AIP", "Visit", providerAt("VisitProvider", 3)),
];
