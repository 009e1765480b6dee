/**
 * The references of a message bundle the translation needs resolved: a resource's patient, its
 * encounter, a report's results and specimens, an order's or appointment's reasons. The reader
 * (bundle.ts) takes the bundle's Patient and Encounter for every resource and follows `result`,
 * `specimen` and `reasonReference` to entries: a reference to no entry would leave the HL7 about
 * someone or something else than the sender meant, or without the results, so it is refused.
 *
 * Other references (a practitioner, an organization, a location, a payor) may point outside the
 * bundle, to a server the receiver knows: the tables read them from a contained resource, an
 * entry, or their `display`, and keep doing so. `#id` references (contained) and logical
 * references (an `identifier` without `reference`) are not checked here.
 *
 * @module
 */

import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import type { FhirIssue } from "./errors.ts";

/** A needed reference: its path in the resource and the type(s) its target must have. */
type Needed = readonly [path: readonly string[], targets: readonly string[] | undefined];

const PATIENT = ["Patient"];
const ENCOUNTER = ["Encounter"];

/** References every read resource may have. */
const COMMON: readonly Needed[] = [
  [["subject"], PATIENT],
  [["patient"], PATIENT],
  [["encounter"], ENCOUNTER],
];

/** More, by resource type. */
const BY_TYPE: Readonly<Record<string, readonly Needed[]>> = {
  Coverage: [[["beneficiary"], PATIENT]],
  DiagnosticReport: [[["result"], ["Observation"]], [["specimen"], ["Specimen"]]],
  Observation: [[["specimen"], ["Specimen"]]],
  ServiceRequest: [[["reasonReference"], undefined], [["specimen"], ["Specimen"]]],
  Appointment: [[["reasonReference"], undefined]],
  DocumentReference: [[["context", "encounter"], ENCOUNTER]],
};

/** The Reference objects at a path (arrays walked), with the FHIRPath of each. */
function referencesAt(
  res: JsonObject,
  keys: readonly string[],
): { at: string; ref: JsonObject }[] {
  let here: { at: string; v: unknown }[] = [{ at: "", v: res }];
  for (const k of keys) {
    const next: { at: string; v: unknown }[] = [];
    for (const { at, v } of here) {
      if (!isObject(v) || v[k] === undefined) continue;
      const p = at === "" ? k : `${at}.${k}`;
      const x = v[k];
      if (Array.isArray(x)) x.forEach((e, i) => next.push({ at: `${p}[${i}]`, v: e }));
      else next.push({ at: p, v: x });
    }
    here = next;
  }
  return here.filter((h): h is { at: string; ref: JsonObject } & { v: JsonObject } => isObject(h.v))
    .map((h) => ({ at: h.at, ref: h.v as JsonObject }));
}

function article(type: string): string {
  return /^[AEIOU]/.test(type) ? "an" : "a";
}

/**
 * The issues of the needed references of `res` (paths relative to the resource): a literal
 * reference (`urn:uuid:…` fullUrl, `Type/id`, an absolute URL that is an entry's fullUrl) that
 * names no entry, or an entry of another type than the element allows.
 *
 * @param resolve the entry a reference names (the reader's index), with its position
 */
export function referenceIssues(
  res: JsonObject,
  resolve: (reference: string) => { resource: JsonObject; entry: number } | undefined,
): FhirIssue[] {
  const type = String(res.resourceType);
  const out: FhirIssue[] = [];
  for (const [keys, targets] of [...COMMON, ...(BY_TYPE[type] ?? [])]) {
    for (const { at, ref } of referencesAt(res, keys)) {
      const r = ref.reference;
      if (typeof r !== "string" || r.startsWith("#")) continue;
      const path = `${at}.reference`;
      const hit = resolve(r);
      if (hit === undefined) {
        out.push({
          path,
          text: `${JSON.stringify(r)} names no entry of the bundle (fullUrl or type/id)`,
        });
        continue;
      }
      const got = String(hit.resource.resourceType);
      if (targets !== undefined && !targets.includes(got)) {
        out.push({
          path,
          text: `${JSON.stringify(r)} names ${article(got)} ${got} (Bundle.entry[${hit.entry}]), ` +
            `not ${targets.map((t) => `${article(t)} ${t}`).join(" or ")}`,
        });
      }
    }
  }
  return out;
}
