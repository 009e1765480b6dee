/**
 * What a FHIR server says back, in the words of an attempt's reason: where a bundle goes
 * (`<base>/$process-message` or the base), the issues of an `OperationOutcome` (severity, code,
 * FHIRPath location, diagnostics), and whether a `$process-message` answer's MessageHeader
 * reports an error under a `200`.
 * @module
 */

import type { HttpResponse } from "./http_client.ts";

/** The URL a bundle of `kind` goes to on the FHIR server at `base`. */
export function fhirTarget(base: string, kind: "message" | "transaction"): string {
  if (kind === "transaction") return base;
  return `${base.replace(/\/+$/, "")}/$process-message`;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parse(body: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function issueText(issue: Json): string {
  const where = Array.isArray(issue.expression) ? issue.expression : issue.location;
  const at = Array.isArray(where) && where.length > 0 ? ` at ${where.join(", ")}` : "";
  const details = isObject(issue.details) && typeof issue.details.text === "string"
    ? issue.details.text
    : undefined;
  const said = [issue.diagnostics, details].filter((x) => typeof x === "string" && x !== "");
  return `${String(issue.severity ?? "error")} ${String(issue.code ?? "")}`.trim() + at +
    (said.length > 0 ? `: ${said.join(" / ")}` : "");
}

/** The issues of an OperationOutcome body, one line (bounded to `max` characters); else undefined. */
export function outcomeIssues(body: string, max = 512): string | undefined {
  const outcome = parse(body);
  if (outcome?.resourceType !== "OperationOutcome" || !Array.isArray(outcome.issue)) return;
  const text = outcome.issue.filter(isObject).map(issueText).join("; ").replace(/\s+/g, " ");
  const cut = Array.from(text.slice(0, max * 2));
  return cut.length > max ? `${cut.slice(0, max).join("")}…` : text;
}

/**
 * A failed answer of a FHIR server: `HTTP 422: OperationOutcome: error invalid at Patient…`,
 * or undefined when the body is no OperationOutcome (the caller describes it as any answer).
 */
export function describeFhirFailure(response: HttpResponse): string | undefined {
  const issues = outcomeIssues(response.body);
  return issues === undefined ? undefined : `HTTP ${response.status}: OperationOutcome: ${issues}`;
}

/**
 * Why a `2xx` answer to `$process-message` is a failure all the same: its MessageHeader's
 * `response.code` is `transient-error` or `fatal-error` (with the details' issues), or the body
 * is an OperationOutcome with an error. Undefined for success or a body that says nothing.
 */
export function processMessageFailure(response: HttpResponse): string | undefined {
  const body = parse(response.body);
  if (body === undefined) return undefined;
  if (body.resourceType === "OperationOutcome") {
    const errors = Array.isArray(body.issue) &&
      body.issue.some((i) => isObject(i) && (i.severity === "error" || i.severity === "fatal"));
    return errors
      ? `HTTP ${response.status}: OperationOutcome: ${outcomeIssues(response.body)}`
      : undefined;
  }
  if (body.resourceType !== "Bundle" || !Array.isArray(body.entry)) return undefined;
  const header = isObject(body.entry[0]) ? body.entry[0].resource : undefined;
  const answer = isObject(header) && isObject(header.response) ? header.response : undefined;
  if (answer === undefined || answer.code === "ok" || answer.code === undefined) return undefined;
  // The details reference an OperationOutcome in the bundle.
  const ref = isObject(answer.details) ? answer.details.reference : undefined;
  const outcome = body.entry.map((e) => isObject(e) ? e : {}).find((e) =>
    isObject(e.resource) && e.resource.resourceType === "OperationOutcome" &&
    (ref === undefined || e.fullUrl === ref ||
      `OperationOutcome/${String(e.resource.id)}` === ref)
  );
  const issues = outcome ? outcomeIssues(JSON.stringify(outcome.resource)) : undefined;
  return `HTTP ${response.status}: MessageHeader.response.code ${String(answer.code)}` +
    (issues ? `: ${issues}` : "");
}
