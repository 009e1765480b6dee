/**
 * Errors of the data-model translator. Bad input is never a crash: a message that cannot be
 * translated is a {@link DataModelError} with a code, JSON that breaks the schema is a
 * {@link DataModelValidationError} listing every problem with its JSON path.
 *
 * @module
 */

/**
 * Why a translation was refused: `unmapped` when no data model maps the message (the engine
 * then routes the HL7 as it is), `invalid` when a value cannot be translated (JSON that breaks
 * the schema, an embedded file over the limit, an unknown time zone).
 */
export type DataModelErrorCode = "unmapped" | "invalid";

/** A translation failure with a machine-readable code. */
export class DataModelError extends Error {
  /** What went wrong. */
  readonly code: DataModelErrorCode;

  /** An error with a code and a message that says what to fix. */
  constructor(code: DataModelErrorCode, message: string) {
    super(message);
    this.name = "DataModelError";
    this.code = code;
  }
}

/** One schema violation: where (`Patient.Demographics.DOB`) and which rule (`not a date`). */
export interface ValidationIssue {
  /** JSON path, dots between keys and `[i]` for array elements; `""` for the whole document. */
  readonly path: string;
  /** The rule that failed, in a few words. */
  readonly rule: string;
}

/** Formats an issue as `path: rule`. */
export function formatIssue(issue: ValidationIssue): string {
  return issue.path === "" ? issue.rule : `${issue.path}: ${issue.rule}`;
}

/** JSON that does not fit its data model; `issues` lists every problem found. */
export class DataModelValidationError extends DataModelError {
  /** Every problem, in document order. */
  readonly issues: readonly ValidationIssue[];
  /** The HTTP status a JSON API should answer with. */
  readonly status = 400;

  /** Builds the message from the issues (the first ten, then a count). */
  constructor(issues: readonly ValidationIssue[]) {
    const shown = issues.slice(0, 10).map(formatIssue);
    const more = issues.length > 10 ? `; and ${issues.length - 10} more` : "";
    super("invalid", shown.join("; ") + more);
    this.name = "DataModelValidationError";
    this.issues = issues;
  }
}
