/**
 * Specimens of a results message (ORU^R01). The data model does not map SPM: it keeps each SPM
 * as it came, as a segment of the `hl7v2` extension of the order or result it follows. The bundle
 * lifts them into Specimen resources (resources/specimen.ts) and puts them back, so every path
 * through the data model (HL7, data-model JSON, a posted bundle) gets the same Specimens:
 *
 * - {@link liftSpecimens} (data model → FHIR): each kept SPM of a DiagnosticReport's order becomes
 *   a Specimen (id: UUID v5 of its SPM-2 identifier, else of the report and its position;
 *   `subject` the Patient), referenced from `DiagnosticReport.specimen` and from each of the
 *   order's Observations (`Observation.specimen`, the order's first specimen: R4 allows one).
 *   Where the segment was, the kept `segment` holds a `specimen` reference instead of its text.
 * - {@link lowerSpecimens} (FHIR → data model): each such reference becomes the SPM again, at
 *   its place; a Specimen a report references that has no place (a FHIR app's bundle) is written
 *   after its order's results.
 *
 * @module
 */

import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import type { FhirBundle, FhirOptions } from "./bundle.ts";
import { EXT_HL7V2 } from "./codes.ts";
import { addExtensions, findExtension } from "./extensions.ts";
import { specimenOf, spmOf } from "./resources/specimen.ts";
import { uuidV5 } from "./uuid.ts";

function refsOf(v: unknown): string[] {
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.map((r) => (isObject(r) ? r.reference : undefined))
    .filter((r): r is string => typeof r === "string");
}

/** The `segment` parts of a resource's hl7v2 extension (live objects, to edit in place). */
function keptSegments(res: JsonObject): JsonObject[] {
  const ext = findExtension(res, EXT_HL7V2);
  if (ext === undefined || !Array.isArray(ext.extension)) return [];
  return ext.extension.filter((p): p is JsonObject =>
    isObject(p) && p.url === "segment" && Array.isArray(p.extension)
  );
}

function sub(part: JsonObject, url: string): JsonObject | undefined {
  return (part.extension as unknown[]).find((x): x is JsonObject => isObject(x) && x.url === url);
}

/** A report and its results, in HL7 order (the OBR's kept segments come before the OBXs'). */
function owners(report: JsonObject, find: (ref: string) => JsonObject | undefined): JsonObject[] {
  const results = refsOf(report.result).map(find)
    .filter((r): r is JsonObject => r?.resourceType === "Observation");
  return [report, ...results];
}

/** Data model → FHIR: kept SPM segments become Specimens (see the module doc). Edits `bundle`. */
export function liftSpecimens(bundle: FhirBundle, options: FhirOptions = {}): void {
  const entries = bundle.entry ?? [];
  const o = { timeZone: options.timeZone ?? "UTC" };
  const byUrl = new Map(entries.map((e) => [e.fullUrl, e.resource]));
  const patient = entries.find((e) => e.resource?.resourceType === "Patient")?.fullUrl;
  const added: { fullUrl: string; resource: JsonObject & { resourceType: string } }[] = [];
  const used = new Set<string>();
  for (const e of entries) {
    const report = e.resource;
    if (report?.resourceType !== "DiagnosticReport") continue;
    const refs: string[] = [];
    const group = owners(report, (r) => byUrl.get(r));
    for (const owner of group) {
      for (const part of keptSegments(owner)) {
        const inner = sub(part, "segment");
        const text = inner?.valueString;
        if (typeof text !== "string" || !text.startsWith("SPM|")) continue;
        const body = specimenOf(text, refs.length + 1, o);
        const first = Array.isArray(body.identifier) ? body.identifier[0] : undefined;
        let key = isObject(first)
          ? `Specimen|${String(first.system ?? "")}|${String(first.value)}`
          : `Specimen|${String(report.id)}|${refs.length}`;
        // The same specimen under two orders of one message: one resource per order.
        if (used.has(key)) key = `${key}|${String(report.id)}|${refs.length}`;
        used.add(key);
        const id = uuidV5(key);
        const fullUrl = `urn:uuid:${id}`;
        const resource = {
          resourceType: "Specimen",
          id,
          ...body,
          ...(patient ? { subject: { reference: patient } } : {}),
        };
        part.extension = (part.extension as unknown[]).map((x) =>
          x === inner ? { url: "specimen", valueReference: { reference: fullUrl } } : x
        );
        refs.push(fullUrl);
        added.push({ fullUrl, resource });
      }
    }
    if (refs.length === 0) continue;
    report.specimen = refs.map((reference) => ({ reference }));
    for (const obs of group.slice(1)) obs.specimen = { reference: refs[0] };
  }
  if (added.length > 0) bundle.entry = [...entries, ...added];
}

/**
 * FHIR → data model: the Specimens a bundle's reports reference become SPM segments kept on the
 * report or result they follow (see the module doc). A copy when there is any Specimen; `bundle`
 * itself is not changed.
 */
export function lowerSpecimens(bundle: unknown, options: FhirOptions = {}): unknown {
  if (!isObject(bundle) || !Array.isArray(bundle.entry)) return bundle;
  const has = bundle.entry.some((e) =>
    isObject(e) && isObject(e.resource) &&
    e.resource.resourceType === "Specimen"
  );
  if (!has) return bundle;
  const o = { timeZone: options.timeZone ?? "UTC" };
  const copy = JSON.parse(JSON.stringify(bundle)) as { entry: unknown[] };
  const index = new Map<string, JsonObject>();
  for (const e of copy.entry) {
    if (!isObject(e) || !isObject(e.resource)) continue;
    const r = e.resource;
    if (typeof e.fullUrl === "string") index.set(e.fullUrl, r);
    if (typeof r.id === "string") index.set(`${String(r.resourceType)}/${r.id}`, r);
  }
  const specimen = (ref: unknown) => {
    const r = typeof ref === "string" ? index.get(ref) : undefined;
    return r?.resourceType === "Specimen" ? r : undefined;
  };
  for (const e of copy.entry) {
    const report = isObject(e) ? e.resource : undefined;
    if (!isObject(report) || report.resourceType !== "DiagnosticReport") continue;
    const placed = new Set<JsonObject>();
    for (const owner of owners(report, (r) => index.get(r))) {
      const ext = findExtension(owner, EXT_HL7V2);
      for (const part of keptSegments(owner)) {
        const inner = sub(part, "specimen");
        if (inner === undefined) continue;
        const res = specimen(isObject(inner.valueReference) ? inner.valueReference.reference : "");
        if (res === undefined || placed.has(res)) {
          // Its Specimen was taken out of the bundle: so is the segment.
          (ext as JsonObject).extension = (ext?.extension as unknown[]).filter((x) => x !== part);
          continue;
        }
        placed.add(res);
        const text = spmOf(res, placed.size, o);
        part.extension = (part.extension as unknown[]).map((x) =>
          x === inner ? { url: "segment", valueString: text } : x
        );
      }
    }
    // A Specimen with no place (a FHIR app's): after the order's results.
    const rest = refsOf(report.specimen).map(specimen)
      .filter((r): r is JsonObject => r !== undefined && !placed.has(r));
    if (rest.length === 0) continue;
    let ext = findExtension(report, EXT_HL7V2);
    if (ext === undefined) {
      ext = { url: EXT_HL7V2, extension: [] };
      addExtensions(report, ext);
    }
    const list = Array.isArray(ext.extension) ? ext.extension : (ext.extension = []);
    for (const res of rest) {
      placed.add(res);
      (list as unknown[]).push({
        url: "segment",
        extension: [
          { url: "after", valueString: "" },
          { url: "segment", valueString: spmOf(res, placed.size, o) },
        ],
      });
    }
  }
  return copy;
}
