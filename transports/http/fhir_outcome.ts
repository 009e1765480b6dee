/**
 * FHIR answers of the API: whether an `Accept` header asks for FHIR JSON rather than the data
 * model's JSON, and the OperationOutcome issue type of an HTTP status.
 * @module
 */

/** The FHIR JSON media type. */
export const FHIR_JSON = "application/fhir+json";

/**
 * Whether `accept` prefers `application/fhir+json`: listed with a `q` above 0 and at least the
 * `q` of `application/json` (so `application/fhir+json, application/json` is FHIR, and
 * `application/json, application/fhir+json;q=0.5` is not). Wildcards choose nothing: without
 * FHIR named, the answer is the data model's JSON.
 */
export function prefersFhir(accept: string | null | undefined): boolean {
  if (!accept) return false;
  let fhir = 0, json = 0;
  for (const range of accept.split(",")) {
    const [type = "", ...params] = range.split(";").map((p) => p.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      if (!p.startsWith("q=")) continue;
      const n = Number(p.slice(2));
      q = Number.isFinite(n) ? n : 0;
    }
    if (type === FHIR_JSON) fhir = Math.max(fhir, q);
    else if (type === "application/json") json = Math.max(json, q);
  }
  return fhir > 0 && fhir >= json;
}

/** The OperationOutcome issue type of an HTTP status. */
export function codeOf(status: number): string {
  switch (status) {
    case 401:
      return "login";
    case 403:
      return "forbidden";
    case 404:
      return "not-found";
    case 408:
      return "timeout";
    case 406:
      return "not-supported";
    case 413:
      return "too-costly";
    case 429:
      return "throttled";
    case 500:
    case 502:
    case 503:
      return "exception";
    case 504:
      return "timeout";
    default:
      return "invalid";
  }
}
