/**
 * Where unmapped HL7 travels in JSON: every scope object (the message, each order, each
 * result...) may hold
 *
 * ```json
 * "Extensions": { "HL7v2": {
 *   "Fields":   { "PID-12": "USA", "PID-13": "~~^^^^^608^5551234", "OBX-5": "^^^^PDF" },
 *   "Segments": [ { "After": "PID", "Segment": "ZPI|1|VIP" } ]
 * } }
 * ```
 *
 * A `Fields` key is `SEG[n]-field`, `n` counting the mapped segments of that ID within the
 * scope (left out for the first); its value is the field with the mapped leaves left empty,
 * encoded with `|^~\&`. `Segments` are segments no table maps, each placed after the mapped
 * segment `After` names. The writer puts both back, so HL7 → JSON → HL7 keeps them.
 *
 * @module
 */

import { isObject, type JsonObject } from "./json_path.ts";

/** The property name of the translator's extension inside `Extensions`. */
export const HL7_EXTENSION = "HL7v2";

/** One unmapped segment and the mapped segment it follows. */
export interface ExtensionSegment {
  /** `SEG` or `SEG[n]`: the mapped segment of this scope it comes after. */
  After: string;
  /** The segment, encoded with `|^~\&`. */
  Segment: string;
}

/** The content of `Extensions.HL7v2`. */
export interface Hl7Extension {
  Fields?: Record<string, string>;
  Segments?: ExtensionSegment[];
}

/** The key of a mapped segment in its scope: `PID`, `NK1[2]`. */
export function segmentKey(name: string, occurrence: number): string {
  return occurrence === 1 ? name : `${name}[${occurrence}]`;
}

/** `Extensions.HL7v2` of a scope object, created when asked to. */
export function extensionOf(obj: JsonObject, create: true): Hl7Extension;
/** `Extensions.HL7v2` of a scope object, or `undefined`. */
export function extensionOf(obj: JsonObject, create?: false): Hl7Extension | undefined;
export function extensionOf(obj: JsonObject, create = false): Hl7Extension | undefined {
  let ext = obj.Extensions;
  if (!isObject(ext)) {
    if (!create) return undefined;
    ext = {};
    obj.Extensions = ext;
  }
  let h = (ext as JsonObject)[HL7_EXTENSION];
  if (!isObject(h)) {
    if (!create) return undefined;
    h = {};
    (ext as JsonObject)[HL7_EXTENSION] = h;
  }
  return h as Hl7Extension;
}

/** Syntax of a `Fields` key. */
export const FIELD_KEY = /^([A-Z][A-Z0-9]{2}(?:\[[1-9]\d{0,4}\])?)-([1-9]\d{0,3})$/;

/** Syntax of an `After` value. */
export const SEGMENT_KEY = /^[A-Z][A-Z0-9]{2}(?:\[[1-9]\d{0,4}\])?$/;

/** The `Fields` of one scope grouped by segment key: `PID` → `[[12, "USA"], ...]`. */
export function fieldsBySegment(ext: Hl7Extension | undefined): Map<string, [number, string][]> {
  const out = new Map<string, [number, string][]>();
  if (ext?.Fields === undefined) return out;
  for (const [key, raw] of Object.entries(ext.Fields)) {
    const m = FIELD_KEY.exec(key);
    if (m === null || typeof raw !== "string") continue;
    const seg = m[1] as string;
    let list = out.get(seg);
    if (list === undefined) out.set(seg, list = []);
    list.push([Number(m[2]), raw]);
  }
  return out;
}
