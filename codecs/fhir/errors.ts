/**
 * What goes wrong converting FHIR: issues with a FHIRPath location, and their
 * OperationOutcome.
 *
 * @module
 */

/** One problem, located by FHIRPath (`Bundle.entry[1].resource.birthDate`). */
export interface FhirIssue {
  /** FHIRPath of the element at fault. */
  readonly path: string;
  /** What is wrong, for a person. */
  readonly text: string;
  /** OperationOutcome issue type (default `invalid`). */
  readonly code?: string;
  /** Default `error`. */
  readonly severity?: "fatal" | "error" | "warning" | "information";
}

/** A conversion refused, with every issue found. */
export class FhirError extends Error {
  /** The issues, each with its location. */
  readonly issues: FhirIssue[];

  /** An error listing `issues` (its message joins them). */
  constructor(issues: FhirIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.text}`).join("; "));
    this.name = "FhirError";
    this.issues = issues;
  }
}

/** A FHIR OperationOutcome resource. */
export interface OperationOutcome {
  resourceType: "OperationOutcome";
  issue: {
    severity: string;
    code: string;
    diagnostics?: string;
    expression?: string[];
  }[];
}

/** An OperationOutcome listing issues (`expression` is the FHIRPath location). */
export function operationOutcome(issues: readonly FhirIssue[]): OperationOutcome {
  return {
    resourceType: "OperationOutcome",
    issue: issues.map((i) => ({
      severity: i.severity ?? "error",
      code: i.code ?? "invalid",
      diagnostics: i.text,
      ...(i.path === "" ? {} : { expression: [i.path] }),
    })),
  };
}
