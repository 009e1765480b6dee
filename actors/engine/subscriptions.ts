/**
 * Which destinations want a message: subscriptions from its integration or source, narrowed by
 * data model and event type, and a filter that is either "send if" (every rule holds; a rule is a
 * JSON path `in` / `notIn` a list of values, case-sensitive) or "block all".
 * @module
 */

import type { SubscriptionConfig } from "../config/mod.ts";
import { type X12Facts, x12Matches } from "./x12_facts.ts";

/** What routing knows of a message. */
export interface RoutingFacts {
  /** `{integration}` or `{source}` it came from. */
  from: { integration?: string; source?: string };
  dataModel?: string;
  eventType?: string;
  /** For HL7 v2: message type and trigger event (`ADT^A01`); `eventTypes` may name it or `A01`. */
  hl7Type?: string;
  /** The data-model JSON, when a mapping exists; filters read it. */
  json?: unknown;
  /** For an X12 transaction set: what a subscription's `x12` lists match (x12_routing.ts). */
  x12?: X12Facts;
  /** For a C-CDA (a file, or in an MDM's OBX-5): its document type (`CCD`). */
  documentType?: string;
}

/** The form a destination gets a message in: HL7 v2, data-model JSON, or a FHIR R4 bundle. */
export type RouteFormat = "hl7v2" | "json" | "fhir";

/** One destination chosen by one subscription. */
export interface Route {
  destinationId: string;
  subscription: SubscriptionConfig;
  format: RouteFormat;
}

/** Reads a dotted path (`Patient.Identifiers.0.ID`) from JSON; arrays are searched when no index is given. */
export function readPath(value: unknown, path: string): unknown[] {
  let current: unknown[] = [value];
  for (const part of path.split(".")) {
    const next: unknown[] = [];
    for (const v of current) {
      if (Array.isArray(v)) {
        if (/^\d+$/.test(part)) next.push(v[Number(part)]);
        else {for (const item of v) {
            if (item && typeof item === "object") {
              next.push((item as Record<string, unknown>)[part]);
            }
          }}
      } else if (v && typeof v === "object") next.push((v as Record<string, unknown>)[part]);
    }
    current = next.flat().filter((x) => x !== undefined);
  }
  return current;
}

/** Whether a subscription's filter lets the message through. */
export function passesFilter(sub: SubscriptionConfig, facts: RoutingFacts): boolean {
  const filter = sub.filter;
  if (!filter) return true;
  if (filter.blockAll) return false;
  for (const rule of filter.sendIf ?? []) {
    const found = facts.json === undefined ? [] : readPath(facts.json, rule.path);
    const hit = found.some((v) => rule.values.some((w) => w === v));
    if (rule.op === "in" ? !hit : hit) return false;
  }
  return true;
}

/** An `eventTypes` entry names the data-model event (`Arrival`), the HL7 type or its trigger. */
function eventMatches(wanted: string, facts: RoutingFacts): boolean {
  if (wanted === facts.eventType) return true;
  if (!facts.hl7Type) return false;
  return wanted === facts.hl7Type || wanted === facts.hl7Type.slice(facts.hl7Type.indexOf("^") + 1);
}

/** Every destination the subscriptions send this message to (each once). */
export function selectRoutes(
  subscriptions: readonly SubscriptionConfig[],
  facts: RoutingFacts,
  defaultFormat: (destinationId: string) => RouteFormat,
): Route[] {
  const out = new Map<string, Route>();
  for (const sub of subscriptions) {
    const from = sub.from.integration !== undefined
      ? sub.from.integration === facts.from.integration
      : sub.from.source === facts.from.source;
    if (!from) continue;
    if (sub.dataModels && !(facts.dataModel && sub.dataModels.includes(facts.dataModel))) continue;
    if (sub.eventTypes && !sub.eventTypes.some((e) => eventMatches(e, facts))) continue;
    if (sub.x12 && !(facts.x12 && x12Matches(sub.x12, facts.x12))) continue;
    if (sub.documentTypes && !sub.documentTypes.includes(facts.documentType ?? "")) continue;
    if (!passesFilter(sub, facts)) continue;
    for (const destinationId of sub.to) {
      if (!out.has(destinationId)) {
        out.set(destinationId, {
          destinationId,
          subscription: sub,
          format: sub.format ?? defaultFormat(destinationId),
        });
      }
    }
  }
  return [...out.values()];
}
