/**
 * Modifiers and HL7 edits on messages from API sources (`POST /endpoint`): a JSON route's
 * `modifiers` (its subscription's, then its destination's) apply to the posted data-model JSON,
 * an HL7 v2 route's `hl7Edits` to the HL7 written from it. Each shaped route gets a payload of
 * its own, stored by the commit that stores and routes the message, and its SEND log says what
 * ran.
 *
 * The API answers at once, so a modifier that fails refuses the whole request (nothing stored):
 * the sender hears why now, and sends again once the config is fixed.
 * @module
 */

import { tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import type { DestinationConfig } from "../config/mod.ts";
import type { Config } from "../config/mod.ts";
import type { Translations } from "./translations.ts";
import { type Shaped, shapeHl7, shapeJson, type ShapingLog } from "./shaping.ts";
import type { Route } from "./subscriptions.ts";

/** A shaped route's stored payload and what its SEND log records. */
export interface ShapedRoute {
  /** The stored modified payload. */
  readonly messageId: string;
  /** What ran, the paths it changed, and the payload's id. */
  readonly log: ShapingLog & { readonly messageId: string };
}

/**
 * Shapes every route that has modifiers (JSON) or HL7 edits (HL7 v2); `hl7Of` writes the HL7 a
 * destination gets. Pure: nothing is stored. A failure names the destination, the modifier and
 * the path.
 */
export function shapeApiRoutes(
  config: Config,
  routes: readonly Route[],
  destinations: ReadonlyMap<string, DestinationConfig>,
  json: unknown,
  hl7Of: (destination: DestinationConfig) => string,
): { ok: true; shaped: Map<string, Shaped> } | { ok: false; reason: string } {
  const shaped = new Map<string, Shaped>();
  for (const r of routes) {
    const d = destinations.get(r.destinationId);
    if (!d) continue;
    let result;
    if (r.format === "json") result = shapeJson(config, r.subscription, d, json);
    else if (r.format === "hl7v2") {
      const edits = r.subscription.hl7Edits !== undefined || d.hl7Edits !== undefined;
      if (!edits) continue;
      const parsed = tryParseHl7(hl7Of(d));
      if (!parsed.ok) {
        return { ok: false, reason: `destination ${d.id}: ${parsed.error.message}` };
      }
      result = shapeHl7(config, r.subscription, d, parsed.message);
    } else continue;
    if (!result.ok) return { ok: false, reason: `destination ${d.id}: ${result.reason}` };
    if (result.shaped) shaped.set(d.id, result.shaped);
  }
  return { ok: true, shaped };
}

/** Prepares each shaped payload for the accept commit (`translations`); by destination id. */
export async function prepareShaped(
  translations: Translations,
  shaped: ReadonlyMap<string, Shaped>,
): Promise<Map<string, ShapedRoute>> {
  const out = new Map<string, ShapedRoute>();
  for (const [destinationId, s] of shaped) {
    const messageId = await translations.add(s.bytes, s.contentType);
    out.set(destinationId, { messageId, log: { ...s.log, messageId } });
  }
  return out;
}
