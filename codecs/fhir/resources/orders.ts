/**
 * Orders (ORM^O01, OML^O21): the order → ServiceRequest, its status and intent by the event
 * (ORC-1), its diagnoses → Conditions it names as reasons.
 *
 * @module
 */

import { REQUEST_PRIORITY } from "../bindings.ts";
import { code, dateTime } from "../codes.ts";
import { dmUnder, each, fixed, type MapContext, path, type ResourceMap } from "../rules.ts";
import { concept, practitioner, refTo } from "./common.ts";
import { FILLER_SYSTEM, PLACER_SYSTEM } from "./results.ts";

/** ServiceRequest.status by Order event (ORC-1 NW, XO, CA). */
export function requestStatus(_o: unknown, ctx: MapContext): string {
  return ctx.eventType === "Cancel" ? "revoked" : "active";
}

/** The Order event a ServiceRequest's status means (for a bundle without our event). */
export function orderEventOfStatus(status: unknown): string {
  return status === "revoked" || status === "entered-in-error" || status === "completed"
    ? "Cancel"
    : "New";
}

const PRIORITY = code([
  ["Stat", "stat"],
  ["ASAP", "asap"],
  ["Routine", "routine"],
  ["Timing Critical", "urgent"],
], { required: REQUEST_PRIORITY });

/** The order (ORC, OBR) → ServiceRequest. */
export const SERVICE_REQUEST: ResourceMap = {
  resourceType: "ServiceRequest",
  rules: [
    path("ID", `identifier[system=${PLACER_SYSTEM}].value`),
    path("ApplicationOrderID", `identifier[system=${FILLER_SYSTEM}].value`),
    fixed("status", requestStatus),
    fixed("intent", () => "order"),
    path("Priority", "priority", PRIORITY),
    ...dmUnder("Procedure", concept("code")),
    refTo("subject", "Patient"),
    refTo("encounter", "Encounter"),
    path("CollectionDateTime", "occurrenceDateTime", dateTime),
    path("TransactionDateTime", "authoredOn", dateTime),
    practitioner("Provider", { fx: "requester" }),
    each("Notes", "note", [path("", "text")]),
  ],
};
