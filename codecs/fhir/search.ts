/**
 * Patient search on a FHIR server: a `PatientSearch.Query` (checked by `validateQuery`) becomes
 * the query string of `GET <base>/Patient?…` (`identifier=system|value` for the first identifier
 * and the SSN, `family`, `given`, `birthdate`, `gender`), and the `searchset` Bundle it answers
 * becomes a `PatientSearch.Response` in the shape the MLLP queries give: one match in `Patient`,
 * several in `PotentialMatches[]`, each read with the Patient table (PATIENT). A client that
 * asked for FHIR gets `searchsetAnswer`'s Bundle instead: the server's resources as they came.
 * Pure: no I/O.
 *
 * ```ts
 * const qs = patientSearchParams(json, { identifierSystems: { HOSP: "urn:oid:1.2.3" } });
 * const answer = searchsetToQueryResponse(bundle, options); // answer.Patient?.Demographics
 * const fhir = searchsetAnswer(bundle, "https://fhir.example/R4"); // Bundle.type "searchset"
 * ```
 *
 * @module
 */

import {
  QUERY_MODEL,
  queryCriteria,
  type QueryResponse,
  RESPONSE_EVENT,
} from "../datamodel/mod.ts";
import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import type { MetaError } from "../datamodel/translate.ts";
import { fhirContext, type FhirOptions, resourceToModel } from "./bundle.ts";
import { SSN_SYSTEM } from "./codes.ts";
import { FhirError } from "./errors.ts";
import { GENDER, PATIENT } from "./resources/patient.ts";

/**
 * The query string (no `?`) of a FHIR Patient search for a query that passed `validateQuery`.
 * An identifier without `IDType` is searched by value in any system.
 */
export function patientSearchParams(query: JsonObject, options: FhirOptions = {}): string {
  const c = queryCriteria(query);
  const ctx = fhirContext(options);
  const params = new URLSearchParams();
  const first = c.identifiers[0];
  if (first) {
    params.append("identifier", first.type ? `${ctx.idSystem(first.type)}|${first.id}` : first.id);
  }
  const d = c.demographics;
  if (d.SSN) params.append("identifier", `${SSN_SYSTEM}|${d.SSN}`);
  if (d.LastName) params.append("family", d.LastName);
  if (d.FirstName) params.append("given", d.FirstName);
  if (d.MiddleName) params.append("given", d.MiddleName);
  if (d.DOB) params.append("birthdate", d.DOB.slice(0, 10));
  const gender = d.Sex ? GENDER.toFhir(d.Sex, ctx) : undefined;
  if (typeof gender === "string") params.append("gender", gender);
  return params.toString();
}

/** An OperationOutcome issue in one line. */
function issueText(issue: JsonObject): string {
  const details = isObject(issue.details) ? issue.details.text : undefined;
  const said = [issue.diagnostics, details].filter((t) => typeof t === "string" && t !== "");
  return `${String(issue.severity ?? "information")} ${String(issue.code ?? "")}`.trim() +
    (said.length > 0 ? `: ${said.join(" / ")}` : "");
}

/**
 * A matched Patient read with the Patient table. A value the table refuses (a `gender` outside
 * administrative-gender) is the server's to fix, not a reason to fail the query: it is left out
 * with a warning that names it.
 */
function readMatch(res: JsonObject, options: FhirOptions, warn: (text: string) => void) {
  let copy = res;
  // Each round leaves out at least one top-level element, so this ends.
  for (let round = 0; round <= Object.keys(res).length; round++) {
    try {
      return resourceToModel(PATIENT, copy, options);
    } catch (error) {
      if (!(error instanceof FhirError)) throw error;
      copy = { ...copy };
      for (const i of error.issues) {
        const id = typeof res.id === "string" ? ` ${res.id}` : "";
        warn(`the FHIR server's Patient${id}: ${i.path}: ${i.text}; left out`);
        delete copy[i.path.split(/[.[]/)[0]!];
      }
    }
  }
  return resourceToModel(PATIENT, {}, options);
}

/**
 * A `searchset` Bundle → a `PatientSearch.Response`. Patients of `search.mode` `match` (or no
 * mode) are the matches; `include`d ones are not. An OperationOutcome in the bundle and a bundle
 * with more matches than it holds (another page) are `Meta.Errors[]` warnings.
 *
 * @throws {FhirError} when `bundle` is not a `searchset` Bundle.
 */
export function searchsetToQueryResponse(
  bundle: unknown,
  options: FhirOptions = {},
): QueryResponse {
  checkSearchset(bundle);
  const errors: MetaError[] = [];
  const warn = (Text: string) => errors.push({ Text, Type: "warning", Module: "fhir" });
  const patients: JsonObject[] = [];
  const entries = Array.isArray(bundle.entry) ? bundle.entry.filter(isObject) : [];
  for (const e of entries) {
    const res = e.resource;
    if (!isObject(res)) continue;
    const mode = isObject(e.search) ? e.search.mode : undefined;
    if (res.resourceType === "Patient" && (mode === undefined || mode === "match")) {
      patients.push(readMatch(res, options, warn));
    } else if (res.resourceType === "OperationOutcome" && Array.isArray(res.issue)) {
      for (const i of res.issue.filter(isObject)) warn(`the FHIR server said: ${issueText(i)}`);
    }
  }
  if (morePages(bundle, patients.length)) {
    warn(
      `the FHIR server found more patients (total ${String(bundle.total ?? "unknown")}) ` +
        `than its first page holds; ${patients.length} read`,
    );
  }
  const meta: QueryResponse["Meta"] = {
    DataModel: QUERY_MODEL,
    EventType: RESPONSE_EVENT,
    Errors: errors,
  };
  if (typeof bundle.timestamp === "string") meta.EventDateTime = bundle.timestamp;
  // Redox's shape, as the MLLP answers: one match is the Patient, several are candidates.
  return patients.length === 1
    ? { Meta: meta, Patient: patients[0]!, PotentialMatches: [] }
    : { Meta: meta, Patient: null, PotentialMatches: patients };
}

/** @throws {FhirError} when `bundle` is not a `searchset` Bundle. */
function checkSearchset(bundle: unknown): asserts bundle is JsonObject {
  if (!isObject(bundle) || bundle.resourceType !== "Bundle") {
    const got = isObject(bundle) ? JSON.stringify(bundle.resourceType) : "no JSON object";
    throw new FhirError([{ path: "Bundle", text: `not a FHIR Bundle (resourceType ${got})` }]);
  }
  if (bundle.type !== "searchset") {
    throw new FhirError([{
      path: "Bundle.type",
      text: `a searchset bundle is required; got ${JSON.stringify(bundle.type)}`,
    }]);
  }
}

/** Whether the server holds more matches than the `matches` of its first page. */
function morePages(bundle: JsonObject, matches: number): boolean {
  const next = Array.isArray(bundle.link) &&
    bundle.link.some((l) => isObject(l) && l.relation === "next");
  return next || (typeof bundle.total === "number" && bundle.total > matches);
}

/** An absolute URL: a scheme first (`https:`, `urn:`). */
const ABSOLUTE = /^[a-z][a-z\d+.-]*:/i;

/**
 * An entry's `fullUrl` for the caller: the server's as it came when absolute; a relative one
 * resolved against the server's base; none given, `<base>/<type>/<id>` for a resource with an id.
 */
function fullUrlOf(given: unknown, resource: JsonObject, base: string): string | undefined {
  const root = `${base.replace(/\/+$/, "")}/`;
  if (typeof given === "string" && given !== "") {
    if (ABSOLUTE.test(given)) return given;
    try {
      return new URL(given, root).href;
    } catch {
      return given;
    }
  }
  if (typeof resource.id !== "string" || typeof resource.resourceType !== "string") return;
  return `${root}${resource.resourceType}/${resource.id}`;
}

/** What {@link searchsetAnswer} needs besides the server's bundle. */
export interface SearchsetAnswerOptions {
  /** The FHIR server's base URL, for relative `fullUrl`s. */
  base: string;
  /** The answer's `Bundle.id` (the engine's: the query's log id), if any. */
  id?: string;
}

/**
 * A FHIR server's `searchset` Bundle as the engine answers it to a client that asked for FHIR:
 * a new `searchset` Bundle (`timestamp` the server's; `total` the server's, else the number of
 * matches) whose entries are the server's, in its order, each resource exactly as it came, with
 * `fullUrl` (see {@link fullUrlOf}) and `search.mode` (the server's; when it gave none,
 * `outcome` for an OperationOutcome and `match` for anything else). Entries without a resource
 * are dropped, and so are the server's `link`s (its paging URLs need the destination's
 * credentials); when the server holds more matches than this first page, an OperationOutcome
 * entry (`warning`, `incomplete`, `search.mode` `outcome`) says so.
 *
 * @throws {FhirError} when `bundle` is not a `searchset` Bundle.
 */
export function searchsetAnswer(bundle: unknown, options: SearchsetAnswerOptions): JsonObject {
  const { base } = options;
  checkSearchset(bundle);
  const entries: JsonObject[] = [];
  let matches = 0;
  for (const e of Array.isArray(bundle.entry) ? bundle.entry.filter(isObject) : []) {
    const resource = e.resource;
    if (!isObject(resource)) continue;
    const search = isObject(e.search) ? e.search : {};
    const mode = typeof search.mode === "string"
      ? search.mode
      : resource.resourceType === "OperationOutcome"
      ? "outcome"
      : "match";
    if (mode === "match") matches++;
    const fullUrl = fullUrlOf(e.fullUrl, resource, base);
    entries.push({ ...(fullUrl ? { fullUrl } : {}), resource, search: { ...search, mode } });
  }
  const total = typeof bundle.total === "number" && Number.isInteger(bundle.total) &&
      bundle.total >= 0
    ? bundle.total
    : matches;
  if (morePages(bundle, matches)) {
    entries.push({
      resource: {
        resourceType: "OperationOutcome",
        issue: [{
          severity: "warning",
          code: "incomplete",
          diagnostics: `the FHIR server found more patients (total ${
            String(bundle.total ?? "unknown")
          }) than its first page holds; only the first page (${matches}) is answered`,
        }],
      },
      search: { mode: "outcome" },
    });
  }
  return {
    resourceType: "Bundle",
    ...(options.id ? { id: options.id } : {}),
    type: "searchset",
    ...(typeof bundle.timestamp === "string" ? { timestamp: bundle.timestamp } : {}),
    total,
    ...(entries.length > 0 ? { entry: entries } : {}),
  };
}

/**
 * The issues of a FHIR server's OperationOutcome answer, as it sent them (those with a
 * `severity` and a `code`), or `[]` when `body` is no OperationOutcome.
 */
export function outcomeIssuesOf(body: unknown): JsonObject[] {
  if (!isObject(body) || body.resourceType !== "OperationOutcome") return [];
  if (!Array.isArray(body.issue)) return [];
  return body.issue.filter((i): i is JsonObject =>
    isObject(i) && typeof i.severity === "string" && typeof i.code === "string"
  );
}
