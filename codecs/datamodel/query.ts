/**
 * Patient queries for MLLP destinations: a `PatientSearch.Query` JSON message becomes an HL7 v2
 * query — `QBP^Q22` (IHE PDQ "find candidates", a QPD of `@PID.n` criteria) or the older
 * `QRY^A19` (a QRD naming the patient) — and the answer (`RSP^K22` or `ADR^A19`) becomes a
 * `PatientSearch.Response` in Redox's shape — the one match in `Patient`, several in
 * `PotentialMatches[]` — read with the same tables as PatientAdmin. A negative answer (MSA-1 `AE`/`AR`, QAK-2 `AE`/`AR`) is reported in
 * `Meta.Errors[]` with the remote side's own words. Pure: no I/O.
 *
 * ```ts
 * const q = queryToHl7(json, { style: "QBP^Q22", controlId: "Q1" });
 * const answer = hl7ToQueryResponse(rspText, { timeZone: "America/Chicago" });
 * answer.Patient?.Demographics; // {LastName: "BIXBY", …} (or answer.PotentialMatches[])
 * ```
 *
 * @module
 */

import { escapeHl7, type Hl7Message, parseHl7 } from "../hl7v2/mod.ts";
import { hl7ToIso, isoToHl7 } from "../time/mod.ts";
import type { ValidationIssue } from "./errors.ts";
import { type RawSegment, rawSegments, STD } from "./hl7_tree.ts";
import { isObject, type JsonObject } from "./json_path.ts";
import { nk1, PD1, PID, SEX } from "./models/common.ts";
import { readModel } from "./read.ts";
import type { ScopeItem } from "./rules.ts";
import type { MetaError } from "./translate.ts";
import { checkModelShape } from "./validate.ts";

/** The data model of patient queries. */
export const QUERY_MODEL = "PatientSearch";
/** The event type of a query. */
export const QUERY_EVENT = "Query";
/** The event type of its answer. */
export const RESPONSE_EVENT = "Response";

/** The HL7 v2 queries an MLLP destination may be sent. */
export type QueryStyle = "QBP^Q22" | "QRY^A19";

/** Options of {@link queryToHl7}. */
export interface QueryToHl7Options {
  /** `QBP^Q22` (default) or `QRY^A19`. */
  readonly style?: QueryStyle;
  /** MSH-10, which the answer's MSA-2 must echo. */
  readonly controlId: string;
  /** QPD-2 / QRD-4, the query tag the answer's QAK-1 echoes. Default: the control id. */
  readonly queryTag?: string;
  /** MSH-3 / MSH-4 / MSH-5 / MSH-6. */
  readonly sendingApplication?: string;
  readonly sendingFacility?: string;
  readonly receivingApplication?: string;
  readonly receivingFacility?: string;
  /** The most patients to ask for (RCP-2 / QRD-7). Default 50. */
  readonly maxResults?: number;
  /** MSH-7 / QRD-1. Default now. */
  readonly now?: Date;
}

/** A `PatientSearch.Response`. */
export interface QueryResponse {
  Meta: {
    DataModel: typeof QUERY_MODEL;
    EventType: typeof RESPONSE_EVENT;
    EventDateTime?: string;
    Errors: MetaError[];
    [key: string]: unknown;
  };
  /** The patient found, when exactly one was; else `null`. */
  Patient: JsonObject | null;
  /** Every patient found, when more than one was; else empty. */
  PotentialMatches: JsonObject[];
}

/** Options of {@link hl7ToQueryResponse}. */
export interface QueryResponseOptions {
  /** IANA zone of the facility, for HL7 times without offset. Default `UTC`. */
  readonly timeZone?: string;
}

const DEMOGRAPHIC_CRITERIA = [
  "LastName",
  "FirstName",
  "MiddleName",
  "DOB",
  "Sex",
  "SSN",
] as const;

/**
 * Checks a query: `Meta.DataModel` `PatientSearch`, `Meta.EventType` `Query`, a `Patient` with at
 * least one criterion (an identifier or a demographic), and the PatientAdmin types for the rest.
 * Every problem comes with its JSON path; an empty list means the query can be sent.
 */
export function validateQuery(json: unknown): ValidationIssue[] {
  if (!isObject(json)) return [{ path: "", rule: "not a JSON object" }];
  const issues: ValidationIssue[] = [];
  const meta = json.Meta;
  if (!isObject(meta)) return [{ path: "Meta", rule: "required (an object)" }];
  if (meta.DataModel !== QUERY_MODEL) {
    issues.push({
      path: "Meta.DataModel",
      rule: `must be ${QUERY_MODEL} (HL7 v2 queries search for patients), not ${
        JSON.stringify(meta.DataModel)
      }`,
    });
  }
  if (meta.EventType !== QUERY_EVENT) {
    issues.push({
      path: "Meta.EventType",
      rule: `must be ${QUERY_EVENT}, not ${JSON.stringify(meta.EventType)}`,
    });
  }
  const patient = json.Patient;
  if (!isObject(patient)) {
    issues.push({ path: "Patient", rule: "required (an object with the search criteria)" });
    return issues;
  }
  issues.push(...checkModelShape("PatientAdmin", { Patient: patient }));
  const c = queryCriteria(json);
  if (c.identifiers.length === 0 && Object.keys(c.demographics).length === 0) {
    issues.push({
      path: "Patient",
      rule: "no search criteria: give Patient.Identifiers[].ID or Patient.Demographics " +
        `(${DEMOGRAPHIC_CRITERIA.join(", ")})`,
    });
  }
  const sex = c.demographics.Sex;
  if (typeof sex === "string" && SEX.toHl7(sex) === undefined) {
    issues.push({
      path: "Patient.Demographics.Sex",
      rule: `one of ${SEX.values().join(", ")}`,
    });
  }
  return issues;
}

/** The criteria of a query: its identifiers (with their authority) and demographics. */
export interface QueryCriteria {
  identifiers: { id: string; type?: string }[];
  demographics: Partial<Record<(typeof DEMOGRAPHIC_CRITERIA)[number], string>>;
}

/** The criteria of a query that passed {@link validateQuery}. */
export function queryCriteria(json: JsonObject): QueryCriteria {
  const patient = json.Patient as JsonObject;
  const ids = Array.isArray(patient.Identifiers) ? patient.Identifiers : [];
  const identifiers = ids.filter(isObject)
    .filter((i) => typeof i.ID === "string" && i.ID !== "")
    .map((i) => ({
      id: i.ID as string,
      ...(typeof i.IDType === "string" && i.IDType !== "" ? { type: i.IDType } : {}),
    }));
  const demographics: QueryCriteria["demographics"] = {};
  const d = isObject(patient.Demographics) ? patient.Demographics : {};
  for (const k of DEMOGRAPHIC_CRITERIA) {
    const v = d[k];
    if (typeof v === "string" && v !== "") demographics[k] = v;
  }
  return { identifiers, demographics };
}

const esc = (v: string) => escapeHl7(v, STD);

/** `YYYYMMDDHHMMSS+0000`. */
function hl7Now(d: Date): string {
  return isoToHl7(d.toISOString().replace(/\.\d+Z$/, "Z"));
}

/**
 * The HL7 v2 query for a `PatientSearch.Query` that passed {@link validateQuery}: segments
 * separated by CR, standard delimiters, version 2.5.1.
 *
 * @throws {Error} when the query did not pass {@link validateQuery}.
 */
export function queryToHl7(json: unknown, options: QueryToHl7Options): string {
  const issues = validateQuery(json);
  if (issues.length > 0) {
    throw new Error(`not a valid query: ${issues.map((i) => `${i.path}: ${i.rule}`).join("; ")}`);
  }
  const c = queryCriteria(json as JsonObject);
  const style = options.style ?? "QBP^Q22";
  const now = hl7Now(options.now ?? new Date());
  const tag = esc(options.queryTag ?? options.controlId);
  const max = Math.max(1, Math.floor(options.maxResults ?? 50));
  const type = style === "QBP^Q22" ? "QBP^Q22^QBP_Q21" : "QRY^A19^QRY_A19";
  const msh = [
    "MSH",
    "^~\\&",
    esc(options.sendingApplication ?? ""),
    esc(options.sendingFacility ?? ""),
    esc(options.receivingApplication ?? ""),
    esc(options.receivingFacility ?? ""),
    now,
    "",
    type,
    esc(options.controlId),
    "P",
    "2.5.1",
  ].join("|");
  if (style === "QBP^Q22") {
    const qpd = ["QPD", "Q22^Find Candidates^HL70471", tag, qip(c)].join("|");
    return [msh, qpd, `RCP|I|${max}^RD`].join("\r");
  }
  // QRD-8 (who subject filter, XCN): the first identifier, then the name.
  const first = c.identifiers[0];
  const who = [
    esc(first?.id ?? ""),
    esc(c.demographics.LastName ?? ""),
    esc(c.demographics.FirstName ?? ""),
  ].join("^").replace(/\^+$/, "");
  const qrd = ["QRD", now, "R", "I", tag, "", "", `${max}^RD`, who, "DEM"].join("|");
  return [msh, qrd].join("\r");
}

/** QPD-3 of a PDQ query: one `@PID.n^value` repetition per criterion. */
function qip(c: QueryCriteria): string {
  const reps: string[] = [];
  const first = c.identifiers[0];
  if (first) {
    reps.push(`@PID.3.1^${esc(first.id)}`);
    if (first.type) reps.push(`@PID.3.4.1^${esc(first.type)}`);
  }
  const d = c.demographics;
  if (d.LastName) reps.push(`@PID.5.1.1^${esc(d.LastName)}`);
  if (d.FirstName) reps.push(`@PID.5.2^${esc(d.FirstName)}`);
  if (d.MiddleName) reps.push(`@PID.5.3^${esc(d.MiddleName)}`);
  if (d.DOB) reps.push(`@PID.7.1^${isoToHl7(d.DOB)}`);
  if (d.Sex) reps.push(`@PID.8^${SEX.toHl7(d.Sex)}`);
  if (d.SSN) reps.push(`@PID.19^${esc(d.SSN)}`);
  return reps.join("~");
}

/** The segments one patient of an answer is read from. */
const PATIENT_SCOPE: readonly ScopeItem[] = [PID, PD1, nk1("Patient.Contacts")];
const PATIENT_SEGMENTS = new Set(["PID", "PD1", "NK1"]);

/**
 * Reads an `RSP^K22` or `ADR^A19` answer (or a bare ACK refusing the query) into a
 * `PatientSearch.Response`. Never throws for a parsed message: what cannot be read is a
 * `Meta.Errors[]` entry.
 *
 * @throws {Hl7ParseError} when `message` is text that does not parse as HL7 v2.
 */
export function hl7ToQueryResponse(
  message: Hl7Message | string,
  options: QueryResponseOptions = {},
): QueryResponse {
  const msg = typeof message === "string" ? parseHl7(message) : message;
  const timeZone = options.timeZone ?? "UTC";
  const errors: MetaError[] = [];
  const meta: QueryResponse["Meta"] = {
    DataModel: QUERY_MODEL,
    EventType: RESPONSE_EVENT,
    Errors: errors,
  };
  const at = msg.get("MSH-7");
  if (at) {
    try {
      meta.EventDateTime = hl7ToIso(at, { timeZone });
    } catch { /* an unreadable MSH-7 is no reason to lose the answer */ }
  }
  const remote = (text: string) =>
    errors.push({ Text: text, Type: "destination", Module: "query" });
  const ack = msg.get("MSA-1") ?? "";
  // The remote side's own words: MSA-3, then ERR-8 (user message), then ERR-3's text.
  const said = [msg.get("MSA-3"), msg.get("ERR-8"), msg.get("ERR-3.2")]
    .filter((t): t is string => t !== undefined && t !== "");
  const errText = [...new Set(said)].join("; ");
  if (ack !== "AA" && ack !== "CA") {
    remote(
      `the destination refused the query (MSA-1 ${ack || "missing"})` +
        (errText ? `: ${errText}` : ""),
    );
  }
  const status = msg.get("QAK-2");
  if (status === "AE" || status === "AR") {
    remote(
      `the destination could not run the query (QAK-2 ${status})` +
        (errText && ack === "AA" ? `: ${errText}` : ""),
    );
  }
  const type = `${msg.get("MSH-9.1") ?? ""}^${msg.get("MSH-9.2") ?? ""}`;
  const patients: JsonObject[] = [];
  const groups = patientGroups(rawSegments(msg));
  if (groups.length > 0 && type !== "RSP^K22" && type !== "ADR^A19") {
    remote(`expected RSP^K22 or ADR^A19, got ${type}; read its PID segments anyway`);
  }
  for (const group of groups) {
    const root: JsonObject = {};
    const { warnings } = readModel(PATIENT_SCOPE, group, root, msg.delimiters, {
      timeZone,
      maxEmbeddedFileBytes: 0,
      extensions: false,
      trigger: "",
      eventType: RESPONSE_EVENT,
    });
    for (const w of warnings) errors.push({ Text: w, Type: "warning", Module: "datamodel" });
    if (isObject(root.Patient)) patients.push(root.Patient);
  }
  // Redox's shape: one match is the Patient; several are PotentialMatches for the client to pick.
  return patients.length === 1
    ? { Meta: meta, Patient: patients[0] as JsonObject, PotentialMatches: [] }
    : { Meta: meta, Patient: null, PotentialMatches: patients };
}

/** PID, PD1 and NK1 segments, one list per PID. */
function patientGroups(segments: readonly RawSegment[]): RawSegment[][] {
  const groups: RawSegment[][] = [];
  for (const seg of segments) {
    if (!PATIENT_SEGMENTS.has(seg.name)) continue;
    if (seg.name === "PID") groups.push([seg]);
    else groups[groups.length - 1]?.push(seg);
  }
  return groups;
}
