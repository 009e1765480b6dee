/**
 * A registry's answers to patient searches: a `PatientSearch.Query` (JSON) becomes a
 * `PatientSearch.Response` in Redox's shape (one match in `Patient`, several in
 * `PotentialMatches`), and an IHE PDQ `QBP^Q22` or a `QRY^A19` becomes its `RSP^K22` or
 * `ADR^A19` with one PID (and PD1, NK1) per match, `QAK-2` `NF` when nothing matches. Patients
 * are written with the PatientAdmin table, so the engine reads them back as it reads an ADT.
 * Pure: no I/O.
 *
 * @module
 */

import {
  jsonToHl7,
  QUERY_MODEL,
  RESPONSE_EVENT,
  validateQuery,
  type ValidationIssue,
} from "../datamodel/mod.ts";
import { buildAckText, encodeSegment, formatHl7Timestamp, type Hl7Message } from "../hl7v2/mod.ts";
import { iso } from "./episode.ts";
import {
  patientJson,
  type Registry,
  type SearchCriteria,
  searchRegistry,
  type SyntheticPatient,
} from "./registry.ts";

/** The answer to a JSON query: a response, or the problems of the query. */
export type JsonSearchAnswer =
  | { ok: true; response: Record<string, unknown>; matches: number }
  | { ok: false; issues: ValidationIssue[] };

/** Reads the criteria of a `Patient` object (a query's). */
function criteriaOf(patient: Record<string, unknown>): SearchCriteria {
  const ids = Array.isArray(patient.Identifiers) ? patient.Identifiers : [];
  const d = (patient.Demographics ?? {}) as Record<string, unknown>;
  const s = (k: string) => typeof d[k] === "string" && d[k] !== "" ? d[k] as string : undefined;
  const out: Record<string, unknown> = {
    identifiers: ids
      .filter((i): i is Record<string, unknown> => typeof i === "object" && i !== null)
      .filter((i) => typeof i.ID === "string" && i.ID !== "")
      .map((i) => ({
        id: i.ID as string,
        ...(typeof i.IDType === "string" && i.IDType !== "" ? { type: i.IDType } : {}),
      })),
  };
  for (
    const [k, key] of [
      ["lastName", "LastName"],
      ["firstName", "FirstName"],
      ["middleName", "MiddleName"],
      ["dob", "DOB"],
      ["sex", "Sex"],
      ["ssn", "SSN"],
    ]
  ) {
    const v = s(key!);
    if (v !== undefined) out[k!] = v;
  }
  return out as SearchCriteria;
}

/** Answers a `PatientSearch.Query` from the registry. */
export function answerJsonSearch(
  registry: Registry,
  query: unknown,
  now: Date,
): JsonSearchAnswer {
  const issues = validateQuery(query);
  if (issues.length > 0) return { ok: false, issues };
  const q = query as { Meta: Record<string, unknown>; Patient: Record<string, unknown> };
  const found = searchRegistry(registry, criteriaOf(q.Patient));
  const patients = found.map((p) => patientJson(p));
  return {
    ok: true,
    matches: found.length,
    response: {
      Meta: {
        DataModel: QUERY_MODEL,
        EventType: RESPONSE_EVENT,
        EventDateTime: iso(now),
        Test: true,
        Errors: [],
      },
      Patient: patients.length === 1 ? patients[0] : null,
      PotentialMatches: patients.length > 1 ? patients : [],
    },
  };
}

/** PID, PD1 and NK1 of a patient, as the PatientAdmin table writes them. */
export function patientSegments(p: SyntheticPatient): string[] {
  const text = jsonToHl7({
    Meta: {
      DataModel: "PatientAdmin",
      EventType: "NewPatient",
      EventDateTime: "2000-01-01T00:00:00Z",
    },
    Patient: patientJson(p),
  }, { controlId: "X" });
  return text.split("\r").filter((s) => /^(PID|PD1|NK1)\|/.test(s));
}

/** Whether a message is a patient query this module answers. */
export function isPatientQuery(msg: Hl7Message): boolean {
  const key = `${msg.get("MSH-9.1") ?? ""}^${msg.get("MSH-9.2") ?? ""}`;
  return key === "QBP^Q22" || key === "QRY^A19";
}

/** PDQ criteria from QPD-3 (`@PID.n^value` repetitions). */
function pdqCriteria(msg: Hl7Message): SearchCriteria | string {
  const out: Record<string, unknown> = {};
  const ids: { id: string; type?: string }[] = [];
  // QPD-3 repeats: one `@PID.n^value` per criterion (bounded: a query names a few fields).
  for (let r = 1; r <= 32; r++) {
    const field = msg.get(`QPD-3[${r}].1`);
    if (field === undefined) break;
    const value = msg.get(`QPD-3[${r}].2`) ?? "";
    if (value === "") continue;
    switch (field) {
      case "@PID.3.1":
      case "@PID.3":
        ids.push({ id: value });
        break;
      case "@PID.3.4.1":
      case "@PID.3.4": {
        const last = ids[ids.length - 1];
        if (last) last.type = value;
        break;
      }
      case "@PID.5.1.1":
      case "@PID.5.1":
        out.lastName = value;
        break;
      case "@PID.5.2":
        out.firstName = value;
        break;
      case "@PID.5.3":
        out.middleName = value;
        break;
      case "@PID.7.1":
      case "@PID.7":
        if (!/^\d{8}/.test(value)) return `QPD-3: ${field} ${value} is not a date`;
        out.dob = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
        break;
      case "@PID.8": {
        const sex: Record<string, string> = { F: "Female", M: "Male", U: "Unknown", O: "Other" };
        out.sex = sex[value] ?? value;
        break;
      }
      case "@PID.19":
        out.ssn = value;
        break;
      default:
        return `QPD-3: ${field} is not a supported query field`;
    }
  }
  if (ids.length > 0) out.identifiers = ids;
  return out as SearchCriteria;
}

/** QRY^A19 criteria from QRD-8 (identifier^family^given). */
function qrdCriteria(msg: Hl7Message): SearchCriteria {
  const id = msg.get("QRD-8.1") ?? "";
  const last = msg.get("QRD-8.2") ?? "";
  const first = msg.get("QRD-8.3") ?? "";
  return {
    ...(id ? { identifiers: [{ id }] } : {}),
    ...(last ? { lastName: last } : {}),
    ...(first ? { firstName: first } : {}),
  };
}

/** Options of {@link answerHl7Query}. */
export interface Hl7QueryAnswerOptions {
  /** MSH-7 of the answer. */
  readonly now: Date;
  /** MSH-10 of the answer. */
  readonly controlId: string;
  /** At most this many patients (default: RCP-2 / QRD-7, else 50). */
  readonly maxResults?: number;
}

/** An answer and how many patients it holds (undefined for a refusal). */
export interface Hl7QueryAnswer {
  readonly text: string;
  readonly matches?: number;
}

/**
 * The `RSP^K22` (to a `QBP^Q22`) or `ADR^A19` (to a `QRY^A19`) answering `msg` from the
 * registry; an `AE` with the reason when the query cannot be read. `msg` must be a patient
 * query ({@link isPatientQuery}).
 */
export function answerHl7Query(
  registry: Registry,
  msg: Hl7Message,
  options: Hl7QueryAnswerOptions,
): Hl7QueryAnswer {
  const pdq = msg.get("MSH-9.1") === "QBP";
  const criteria = pdq ? pdqCriteria(msg) : qrdCriteria(msg);
  const empty = typeof criteria !== "string" && searchIsEmpty(criteria);
  if (typeof criteria === "string" || empty) {
    const text = typeof criteria === "string"
      ? criteria
      : pdq
      ? "QPD-3 holds no search criteria"
      : "QRD-8 holds no search criteria";
    return {
      text: buildAckText(msg, {
        code: "AE",
        controlId: options.controlId,
        now: options.now,
        error: { code: "101", text, location: pdq ? "QPD-3" : "QRD-8" },
      }),
    };
  }
  const max = Number(msg.get(pdq ? "RCP-2.1" : "QRD-7.1") ?? "") || options.maxResults || 50;
  const found = searchRegistry(registry, criteria).slice(0, max);
  const tag = msg.get(pdq ? "QPD-2" : "QRD-4") ?? "";
  const header = encodeSegment("MSH", [
    msg.get("MSH-5") ?? "",
    msg.get("MSH-6") ?? "",
    msg.get("MSH-3") ?? "",
    msg.get("MSH-4") ?? "",
    formatHl7Timestamp(options.now),
    null,
    pdq ? ["RSP", "K22", "RSP_K21"] : ["ADR", "A19", "ADR_A19"],
    options.controlId,
    msg.get("MSH-11") ?? "P",
    "2.5.1",
  ]);
  const msa = encodeSegment("MSA", ["AA", msg.get("MSH-10") ?? ""]);
  const segments = [header, msa];
  const status = found.length > 0 ? "OK" : "NF";
  if (pdq) {
    segments.push(
      encodeSegment("QAK", [
        tag,
        status,
        ["Q22", "Find Candidates", "HL70471"],
        String(found.length),
      ]),
      msg.getRaw("QPD") as string,
    );
  } else {
    segments.push(encodeSegment("QAK", [tag, status]), msg.getRaw("QRD") as string);
  }
  found.forEach((p, i) => {
    const [pid, ...rest] = patientSegments(p);
    // PID-1 counts the patients of the answer.
    segments.push(pid!.replace(/^PID\|1\|/, `PID|${i + 1}|`), ...rest);
  });
  return { text: segments.join("\r"), matches: found.length };
}

function searchIsEmpty(c: SearchCriteria): boolean {
  return (c.identifiers ?? []).length === 0 &&
    [c.lastName, c.firstName, c.middleName, c.dob, c.sex, c.ssn].every((v) => !v);
}
