/**
 * Applies a route's shaping after the base translation and before delivery: the subscription's
 * list, then the destination's — `modifiers` on data-model JSON, `hl7Edits` on HL7 v2. The
 * result is the payload stored for that destination, and a report of what ran and which paths
 * changed (never values) for its SEND log. A failure names the list, the modifier and the path;
 * the route then fails like any route whose form cannot be made (FAILED, dead letter, reprocess).
 * @module
 */

import { encodeHl7, type Hl7Message } from "../../codecs/hl7v2/mod.ts";
import { applyHl7Edits, applyModifiers } from "../../codecs/modifiers/mod.ts";
import type { Config, DestinationConfig, SubscriptionConfig } from "../config/mod.ts";
import { shapingOf } from "../config/shaping.ts";
import { translationSetsFor } from "./translation_sets.ts";

/** One list that ran on a delivery, as its SEND log shows it. */
export interface ShapingStep {
  /** Whose list: `subscription <id>` (or `subscriptions[<index>]`), or `destination` (its own). */
  readonly list: string;
  /** `modifiers` or `hl7Edits`. */
  readonly kind: "modifiers" | "hl7Edits";
  /** Each modifier or edit: its index, name, and the paths it changed. */
  readonly ran: readonly {
    index: number;
    name?: string;
    changed: readonly string[];
    skipped?: boolean;
  }[];
}

/** What shaping did to one delivery (stored in its SEND log). */
export interface ShapingLog {
  /** The lists that ran, in order. */
  readonly steps: readonly ShapingStep[];
  /** Translation sets used, with their versions. */
  readonly translationSets: readonly { name: string; version: number }[];
}

/** A shaped payload. */
export interface Shaped {
  /** The bytes to deliver. */
  readonly bytes: Uint8Array;
  /** Their content type. */
  readonly contentType: string;
  /** What ran. */
  readonly log: ShapingLog;
}

/** The outcome of shaping one route: nothing to do, a payload, or why it failed. */
export type ShapeResult =
  | { readonly ok: true; readonly shaped?: Shaped }
  | { readonly ok: false; readonly reason: string };

/** How the destination's own list is named in logs (the destination is named by the route). */
const DESTINATION = "destination";

/** A failure's reason; the caller prefixes the destination, so its own list needs no name. */
function failureReason(list: string, message: string): string {
  return list === DESTINATION ? message : `${list}: ${message}`;
}

function subscriptionName(config: Config, sub: SubscriptionConfig): string {
  return sub.id !== undefined
    ? `subscription ${sub.id}`
    : `subscriptions[${config.subscriptions.indexOf(sub)}]`;
}

/** Whether a route has anything to apply in the given form. */
export function hasShaping(
  sub: SubscriptionConfig,
  dest: DestinationConfig,
  format: "hl7v2" | "json" | "fhir",
): boolean {
  // A FHIR route's modifiers apply to the data-model JSON it is made from.
  return format !== "hl7v2"
    ? sub.modifiers !== undefined || dest.modifiers !== undefined
    : sub.hl7Edits !== undefined || dest.hl7Edits !== undefined;
}

/** Shapes the data-model JSON for one route (subscription list first). */
export function shapeJson(
  config: Config,
  sub: SubscriptionConfig,
  dest: DestinationConfig,
  json: unknown,
): ShapeResult {
  if (!hasShaping(sub, dest, "json")) return { ok: true };
  const shaping = shapingOf(config);
  const steps: ShapingStep[] = [];
  const sets = new Map<string, number>();
  let value = json;
  const lists: [string, unknown[] | undefined][] = [
    [subscriptionName(config, sub), sub.modifiers],
    [DESTINATION, dest.modifiers],
  ];
  for (const [list, raw] of lists) {
    if (raw === undefined) continue;
    const compiled = shaping.modifiers.get(raw);
    if (compiled === undefined) return { ok: false, reason: `${list}: modifiers did not compile` };
    const r = applyModifiers(compiled, value, {
      translationSets: translationSetsFor(config),
      inputs: { environment: dest.environment, destination: dest.id },
    });
    if (!r.ok) return { ok: false, reason: failureReason(list, r.failure.message) };
    value = r.value;
    for (const s of r.translationSets) sets.set(s.name, s.version);
    steps.push({
      list,
      kind: "modifiers",
      ran: r.runs.map((x) => ({
        index: x.index,
        ...(x.name !== undefined ? { name: x.name } : {}),
        changed: x.changed,
        ...(x.skipped ? { skipped: true } : {}),
      })),
    });
  }
  return {
    ok: true,
    shaped: {
      bytes: new TextEncoder().encode(JSON.stringify(value)),
      contentType: "application/json",
      log: { steps, translationSets: [...sets].map(([name, version]) => ({ name, version })) },
    },
  };
}

/** Applies the HL7 edits of one route (subscription list first). */
export function shapeHl7(
  config: Config,
  sub: SubscriptionConfig,
  dest: DestinationConfig,
  message: Hl7Message,
): ShapeResult {
  if (!hasShaping(sub, dest, "hl7v2")) return { ok: true };
  const shaping = shapingOf(config);
  const steps: ShapingStep[] = [];
  const sets = new Map<string, number>();
  let msg = message;
  const lists: [string, unknown[] | undefined][] = [
    [subscriptionName(config, sub), sub.hl7Edits],
    [DESTINATION, dest.hl7Edits],
  ];
  for (const [list, raw] of lists) {
    if (raw === undefined) continue;
    const compiled = shaping.edits.get(raw);
    if (compiled === undefined) return { ok: false, reason: `${list}: hl7Edits did not compile` };
    const r = applyHl7Edits(compiled, msg, { translationSets: translationSetsFor(config) });
    if (!r.ok) return { ok: false, reason: failureReason(list, r.failure.message) };
    msg = r.message;
    for (const s of r.translationSets) sets.set(s.name, s.version);
    steps.push({
      list,
      kind: "hl7Edits",
      ran: r.runs.map((x) => ({
        index: x.index,
        ...(x.name !== undefined ? { name: x.name } : {}),
        changed: x.changed,
      })),
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = encodeHl7(msg.encode());
  } catch (e) {
    return { ok: false, reason: `cannot encode the edited message: ${(e as Error).message}` };
  }
  return {
    ok: true,
    shaped: {
      bytes,
      contentType: "application/hl7-v2",
      log: { steps, translationSets: [...sets].map(([name, version]) => ({ name, version })) },
    },
  };
}
