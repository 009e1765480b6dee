/**
 * Scheduling (SIU S12–S15, S26): the appointment → Appointment, its status by event.
 *
 * @module
 */

import { isObject, type JsonObject } from "../../datamodel/json_path.ts";
import { instant, LOCAL_ID_SYSTEM, positiveInt } from "../codes.ts";
import { fixed, type FnRule, type MapContext, path, type ResourceMap } from "../rules.ts";
import { contained, LOCATION, practitioner, refTo } from "./common.ts";

/** Appointment.status by Scheduling event. */
export function appointmentStatus(_o: unknown, ctx: MapContext): string {
  return ctx.eventType === "Cancel"
    ? "cancelled"
    : ctx.eventType === "NoShow"
    ? "noshow"
    : "booked";
}

function minutes(o: JsonObject): number | undefined {
  const d = o.Duration, u = String(o.DurationUnits ?? "MIN").toUpperCase();
  return typeof d === "number" && Number.isInteger(d) && d > 0 && (u === "MIN" || u === "M")
    ? d
    : undefined;
}

/** The end FHIR requires with a start: start plus the duration (the start when none). */
const END: FnRule = {
  kind: "fn",
  toFhir(obj, res) {
    if (typeof res.start !== "string") return;
    const ms = Date.parse(res.start);
    if (Number.isNaN(ms)) return;
    const end = new Date(ms + (minutes(obj) ?? 0) * 60_000).toISOString();
    res.end = end.replace(".000Z", "Z");
  },
  toDm(res, obj) {
    if (obj.Duration === undefined && typeof res.minutesDuration === "number") {
      obj.DurationUnits = "MIN";
    }
  },
};

/** The appointment (SCH, AIS, AIL, AIP) → Appointment. */
export const APPOINTMENT: ResourceMap = {
  resourceType: "Appointment",
  rules: [
    path("VisitNumber", `identifier[system=${LOCAL_ID_SYSTEM}appointment].value`),
    fixed("status", appointmentStatus),
    path("Reason", "reasonCode[0].text"),
    path("VisitDateTime", "start", instant),
    fixed("minutesDuration", (o) => minutes(o)),
    path("Duration", "minutesDuration", positiveInt, {
      toFhir: () => false,
      toDm: () => true,
    }),
    END,
    fixed("participant[0]", (_o, ctx) => {
      const r = ctx.refs.Patient;
      return r === undefined ? undefined : { actor: { reference: r }, status: "accepted" };
    }),
    practitioner("VisitProvider", {
      fx: "participant",
      element: (ref) => ({ actor: ref, status: "accepted" }),
      find: (e) => isObject(e.actor) && e.actor.reference === "#visitprovider",
      refAt: "actor",
    }),
    contained("Location", LOCATION, {
      fx: "participant",
      element: (ref) => ({ actor: ref, status: "accepted" }),
      find: (e) => isObject(e.actor) && e.actor.reference === "#location",
      refAt: "actor",
    }, "Department"),
    refTo("basedOn", "ServiceRequest"),
  ],
};
