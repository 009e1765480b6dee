/**
 * Finding the messages about one patient: the `patient` parameter of `GET /admin/logs` and
 * `/console/logs` (a PID-3 identifier, optionally `ID^^^AUTHORITY`), and the search itself, a
 * bounded scan of received messages (the store keeps no index by patient, so intake pays nothing).
 * @module
 */

import type { AdminService, LogFilter, PayloadSearchPage } from "../../actors/ports.ts";
import { readPatientIds } from "../../codecs/hl7v2/patient_ids.ts";
import type { Parsed } from "./params.ts";

/** The query parameter naming the patient sought. */
export const PATIENT_PARAM = "patient";

/** A patient identifier sought: PID-3.1, and the assigning authority when given. */
export interface PatientQuery {
  id: string;
  /** Matches PID-3.4.1 (namespace id) or PID-3.4.2 (universal id). */
  authority?: string;
}

const MAX = 200;
const FORMS = "a patient identifier (PID-3.1), optionally with its assigning authority as " +
  `ID^^^AUTHORITY, 1 to ${MAX} characters without | ~ \\ & or control characters`;

/** The value of `patient=` (see {@link FORMS}), or the message of a 400 answer naming it. */
export function parsePatient(raw: string): Parsed<PatientQuery> {
  const shown = JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
  const problem = {
    ok: false as const,
    error: `${PATIENT_PARAM}: expected ${FORMS}; got ${shown}`,
  };
  // deno-lint-ignore no-control-regex -- control characters are what is refused
  if (raw.length === 0 || raw.length > MAX || /[|~\\&\x00-\x1f\x7f]/.test(raw)) return problem;
  const parts = raw.split("^");
  const [id, , , authority] = parts;
  if (!id) return problem;
  if (parts.length === 1) return { ok: true, value: { id } };
  if (parts.length !== 4 || parts[1] !== "" || parts[2] !== "" || !authority) return problem;
  return { ok: true, value: { id, authority } };
}

/** Whether the message `payload` is about `patient` (false for anything not HL7 v2 with a PID). */
export function isAboutPatient(payload: Uint8Array, patient: PatientQuery): boolean {
  const ids = readPatientIds(payload);
  return ids?.some((p) =>
    p.id === patient.id &&
    (patient.authority === undefined || p.authorities.includes(patient.authority))
  ) ?? false;
}

/**
 * Takes `patient` out of a log query string: the patient sought (if given) and the rest, for
 * `parseLogFilter`. Refused: a bad or repeated value, or a `type` other than RECEIVE with it.
 */
export function splitPatientQuery(
  query: URLSearchParams,
): Parsed<{ patient?: PatientQuery; rest: URLSearchParams }> {
  const values = query.getAll(PATIENT_PARAM);
  const rest = new URLSearchParams(query);
  rest.delete(PATIENT_PARAM);
  if (values.length === 0) return { ok: true, value: { rest } };
  if (values.length > 1) return { ok: false, error: `${PATIENT_PARAM}: given more than once` };
  const type = query.get("type");
  if (type !== null && type.toUpperCase() !== "RECEIVE") {
    return {
      ok: false,
      error: `${PATIENT_PARAM}: finds RECEIVE logs only; drop type or give type=RECEIVE`,
    };
  }
  const patient = parsePatient(values[0]!);
  return patient.ok ? { ok: true, value: { patient: patient.value, rest } } : patient;
}

/**
 * The RECEIVE logs of messages about `patient`, newest first, by a bounded scan of the logs
 * matching `filter` (see the store's `searchPayloads` for the bounds and the cursor).
 */
export function searchByPatient(
  store: Pick<AdminService, "searchPayloads">,
  patient: PatientQuery,
  filter: LogFilter,
): Promise<PayloadSearchPage> {
  return store.searchPayloads({ filter, matches: (payload) => isAboutPatient(payload, patient) });
}
