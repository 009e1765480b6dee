/**
 * Patient search on a FHIR server: a `PatientSearch.Query` (checked by `validateQuery`) becomes
 * the query string of `GET <base>/Patient?…` (`identifier=system|value` for the first identifier
 * and the SSN, `family`, `given`, `birthdate`, `gender`), and the `searchset` Bundle it answers
 * becomes a `PatientSearch.Response` in the shape the MLLP queries give: one match in `Patient`,
 * several in `PotentialMatches[]`, each read with the Patient table (PATIENT). Pure: no I/O.
 *
 * ```ts
 * const qs = patientSearchParams(json, { identifierSystems: { HOSP: "urn:oid:1.2.3" } });
 * const answer = searchsetToQueryResponse(bundle, options); // answer.Patient?.Demographics
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
  const errors: MetaError[] = [];
  const warn = (Text: string) => errors.push({ Text, Type: "warning", Module: "fhir" });
  const patients: JsonObject[] = [];
  const entries = Array.isArray(bundle.entry) ? bundle.entry.filter(isObject) : [];
  for (const e of entries) {
    const res = e.resource;
    if (!isObject(res)) continue;
    const mode = isObject(e.search) ? e.search.mode : undefined;
    if (res.resourceType === "Patient" && (mode === undefined || mode === "match")) {
      patients.push(resourceToModel(PATIENT, res, options));
    } else if (res.resourceType === "OperationOutcome" && Array.isArray(res.issue)) {
      for (const i of res.issue.filter(isObject)) warn(`the FHIR server said: ${issueText(i)}`);
    }
  }
  const next = Array.isArray(bundle.link) &&
    bundle.link.some((l) => isObject(l) && l.relation === "next");
  if (next || (typeof bundle.total === "number" && bundle.total > patients.length)) {
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
