/**
 * Errors of the data-model translator. Bad input is never a crash: a message that cannot be
 * translated is a {@link DataModelError} with a code, JSON that breaks the schema is a
 * {@link DataModelValidationError} listing every problem with its JSON path.
 *
 * @module
 */

/**
 * Why a translation was refused: `unmapped` when no data model maps the message (the engine
 * then routes the HL7 as it is), `incomplete` when the message lacks a segment its data model
 * cannot do without, `invalid` when a value cannot be translated (JSON that breaks the schema,
 * an embedded file over the limit, an unknown time zone).
 */
export type DataModelErrorCode = "unmapped" | "incomplete" | "invalid";

/** Where an HL7 v2 input went wrong, in HL7 terms (for an ERR segment). */
export interface Hl7Fault {
  /** HL7 table 0357 code (`100` segment missing, `200` message type, `201` event...). */
  readonly condition: string;
  /** HL7 path of the segment or field at fault (`PID`, `ORC-1`). */
  readonly location?: string;
}

/** A translation failure with a machine-readable code. */
export class DataModelError extends Error {
  /** What went wrong. */
  readonly code: DataModelErrorCode;
  /** For HL7 v2 input: the fault in HL7 terms, when it is the sender's. */
  readonly hl7?: Hl7Fault;

  /** An error with a code and a message that says what to fix. */
  constructor(code: DataModelErrorCode, message: string, hl7?: Hl7Fault) {
    super(message);
    this.name = "DataModelError";
    this.code = code;
    if (hl7) this.hl7 = hl7;
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
