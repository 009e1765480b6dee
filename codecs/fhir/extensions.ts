/**
 * What the tables do not map, kept on the resources as extensions so that HL7 → FHIR → HL7
 * loses nothing:
 *
 * - `urn:x-hl7v2-engine:extension:hl7v2`: the HL7 the data model did not map
 *   (`Extensions.HL7v2` of the object), one `field` sub-extension per HL7 path (`path`
 *   `PID-12`, `value` `USA`) and one `segment` per unmapped segment (`after`, `segment`);
 * - `urn:x-hl7v2-engine:extension:data-model`: the data-model properties the FHIR table did
 *   not carry (JSON: `{"Keep": {...}, "Drop": [...]}`, see map.ts).
 *
 * @module
 */

import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import { EXT_DATA_MODEL, EXT_HL7V2 } from "./codes.ts";
import type { Residue } from "./map.ts";

function sub(url: string, value: string): JsonObject {
  return { url, valueString: value };
}

/** `Extensions.HL7v2` as an extension (`undefined` when there is nothing to keep). */
export function hl7v2Extension(ext: unknown): JsonObject | undefined {
  if (!isObject(ext)) return undefined;
  // Plain loops and literals: a message has dozens of fields to keep, one bundle per message.
  const parts: JsonObject[] = [];
  const fields = ext.Fields;
  if (isObject(fields)) {
    for (const p in fields) {
      const v = fields[p];
      if (typeof v !== "string") continue;
      parts.push({
        url: "field",
        extension: v === "" ? [sub("path", p)] : [sub("path", p), sub("value", v)],
      });
    }
  }
  const segments = ext.Segments;
  if (Array.isArray(segments)) {
    for (const seg of segments) {
      if (!isObject(seg) || typeof seg.Segment !== "string") continue;
      parts.push({
        url: "segment",
        extension: [sub("after", String(seg.After ?? "")), sub("segment", seg.Segment)],
      });
    }
  }
  return parts.length === 0 ? undefined : { url: EXT_HL7V2, extension: parts };
}

function subValue(ext: unknown, url: string): string | undefined {
  if (!isObject(ext) || !Array.isArray(ext.extension)) return undefined;
  const hit = ext.extension.find((e: unknown) => isObject(e) && e.url === url);
  return isObject(hit) && typeof hit.valueString === "string" ? hit.valueString : undefined;
}

/** The `Extensions.HL7v2` an extension holds, or `undefined`. */
export function readHl7v2Extension(res: JsonObject): JsonObject | undefined {
  const ext = findExtension(res, EXT_HL7V2);
  if (ext === undefined || !Array.isArray(ext.extension)) return undefined;
  const fields: Record<string, string> = {};
  const segments: JsonObject[] = [];
  for (const e of ext.extension) {
    if (!isObject(e)) continue;
    if (e.url === "field") {
      const p = subValue(e, "path");
      if (p !== undefined) fields[p] = subValue(e, "value") ?? "";
    } else if (e.url === "segment") {
      const seg = subValue(e, "segment");
      if (seg !== undefined) segments.push({ After: subValue(e, "after") ?? "", Segment: seg });
    }
  }
  const out: JsonObject = {};
  if (segments.length > 0) out.Segments = segments;
  if (Object.keys(fields).length > 0) out.Fields = fields;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A residue as an extension. */
export function residueExtension(residue: Residue | undefined): JsonObject | undefined {
  return residue === undefined ? undefined : {
    url: EXT_DATA_MODEL,
    valueString: JSON.stringify(residue),
  };
}

/** The residue a resource carries, or `undefined` (also when it does not parse). */
export function readResidue(res: JsonObject): Residue | undefined {
  const ext = findExtension(res, EXT_DATA_MODEL);
  if (ext === undefined || typeof ext.valueString !== "string") return undefined;
  try {
    const r = JSON.parse(ext.valueString);
    if (!isObject(r)) return undefined;
    const out: Residue = {};
    if (isObject(r.Keep)) out.Keep = r.Keep;
    if (Array.isArray(r.Drop)) out.Drop = r.Drop.filter((d: unknown) => typeof d === "string");
    return out;
  } catch {
    return undefined;
  }
}

/** The first extension of a resource with a URL. */
export function findExtension(res: JsonObject, url: string): JsonObject | undefined {
  if (!Array.isArray(res.extension)) return undefined;
  const hit = res.extension.find((e: unknown) => isObject(e) && e.url === url);
  return isObject(hit) ? hit : undefined;
}

/** Appends extensions to a resource (none when all are `undefined`). */
export function addExtensions(res: JsonObject, ...exts: (JsonObject | undefined)[]): void {
  const add = exts.filter((e): e is JsonObject => e !== undefined);
  if (add.length === 0) return;
  const list = Array.isArray(res.extension) ? res.extension : (res.extension = []);
  (list as unknown[]).push(...add);
}
