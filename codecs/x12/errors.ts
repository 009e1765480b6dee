/**
 * Typed errors and envelope issues of the X12 codec. A failure that stops reading (no ISA,
 * unreadable separators) is thrown as an {@link X12ParseError}; envelope problems (counts, control
 * numbers, missing trailers) are {@link X12Issue}s, each carrying the TA1 / 999 code it is answered
 * with, and are thrown as an {@link X12EnvelopeError} unless the caller asks to keep them.
 *
 * @module
 */

/** Why a text could not be read as X12 at all. */
export type X12ParseErrorCode =
  /** The input is empty or only whitespace. */
  | "EMPTY"
  /** The first segment is not `ISA`. */
  | "NO_ISA"
  /** The ISA segment ends before its 16 elements and the segment terminator. */
  | "ISA_TOO_SHORT"
  /** A separator is a letter, a digit or a space, or two separators are the same character. */
  | "BAD_SEPARATORS"
  /** A segment does not start with a 2 or 3 character upper-case segment ID. */
  | "INVALID_SEGMENT_ID";

/** Why an envelope (ISA/IEA, GS/GE, ST/SE) is not valid. */
export type X12IssueCode =
  /** An ISA element has a value the standard does not allow (TA1 note code says which). */
  | "BAD_ISA_ELEMENT"
  /** A GS or ST element required for the envelope is missing or malformed. */
  | "BAD_HEADER_ELEMENT"
  /** A segment appears where the envelope does not allow it (e.g. ST outside GS). */
  | "UNEXPECTED_SEGMENT"
  /** The interchange has no IEA (the file ends or the next ISA starts first). */
  | "MISSING_IEA"
  /** A functional group has no GE. */
  | "MISSING_GE"
  /** A transaction set has no SE. */
  | "MISSING_SE"
  /** A trailer's control number differs from its header's (IEA02/ISA13, GE02/GS06, SE02/ST02). */
  | "CONTROL_NUMBER_MISMATCH"
  /** A trailer's count differs from the actual count (IEA01, GE01, SE01). */
  | "COUNT_MISMATCH"
  /** A control number is repeated where it must be unique (ST02 within a group). */
  | "DUPLICATE_CONTROL_NUMBER"
  /** A segment of a transaction set fits nowhere in its implementation guide's loops. */
  | "UNEXPECTED_LOOP_SEGMENT"
  /** A segment the implementation guide requires is absent. */
  | "MISSING_SEGMENT"
  /** A data element is missing, invalid or not a valid date. */
  | "BAD_ELEMENT";

/** Every code an {@link X12Error} can carry. */
export type X12ErrorCode = X12ParseErrorCode | X12IssueCode | "BAD_PATH" | "BAD_VALUE";

/** Where in the input something was found. */
export interface X12Location {
  /** 0-based index of the segment in the file (counting every segment of every interchange). */
  readonly segmentIndex: number;
  /** 0-based character offset of the segment in the input. */
  readonly offset: number;
  /** The segment ID, when known. */
  readonly segmentId?: string;
  /** 1-based element position within the segment, when the problem is one element. */
  readonly element?: number;
}

/** Base class of all X12 codec errors; `code` says what went wrong. */
export class X12Error extends Error {
  /** Machine-readable reason. */
  readonly code: X12ErrorCode;

  /** Creates an error with a code and a human-readable message. */
  constructor(code: X12ErrorCode, message: string) {
    super(message);
    this.name = "X12Error";
    this.code = code;
  }
}

/** `detail (segment N ID, element E, offset O)`. */
export function describeLocation(detail: string, where: X12Location): string {
  const seg = `segment ${where.segmentIndex + 1}${where.segmentId ? ` ${where.segmentId}` : ""}`;
  const el = where.element !== undefined ? `, element ${where.element}` : "";
  return `${detail} (${seg}${el}, offset ${where.offset})`;
}

/** The input cannot be read as X12; the message says what and where. */
export class X12ParseError extends X12Error {
  /** Machine-readable reason. */
  declare readonly code: X12ParseErrorCode;
  /** 0-based index of the offending segment. */
  readonly segmentIndex: number;
  /** 0-based character offset of the problem. */
  readonly offset: number;
  /** 1-based element position, when the problem is one element. */
  readonly element: number | undefined;

  /** Creates a parse error; `detail` gets a "(segment N, element E, offset O)" suffix. */
  constructor(code: X12ParseErrorCode, detail: string, where: X12Location) {
    super(code, describeLocation(detail, where));
    this.name = "X12ParseError";
    this.segmentIndex = where.segmentIndex;
    this.offset = where.offset;
    this.element = where.element;
  }
}

/** At which envelope level an issue is answered. */
export type X12IssueLevel = "interchange" | "group" | "transaction";

/** One envelope or content problem, with the acknowledgment code that reports it. */
export interface X12Issue extends X12Location {
  /** Machine-readable reason. */
  readonly code: X12IssueCode;
  /** Which envelope the problem belongs to (and so which acknowledgment reports it). */
  readonly level: X12IssueLevel;
  /** TA1-05 interchange note code (I18), for interchange issues. */
  readonly ta1?: string;
  /** AK9-05 functional group syntax error code (716), for group issues. */
  readonly ak9?: string;
  /** IK5-02 transaction set syntax error code (718), for transaction issues. */
  readonly ik5?: string;
  /** IK3-04 segment syntax error code (620), for a problem with one segment. */
  readonly ik3?: string;
  /** IK4-03 element syntax error code (621), for a problem with one element. */
  readonly ik4?: string;
  /** The offending value (IK4-04 copy of bad data element), when there is one. */
  readonly value?: string;
  /** Loop identifier (IK3-03) the segment was found in, when known. */
  readonly loop?: string;
  /** 1-based position of the segment within its transaction set (IK3-02), when inside one. */
  readonly positionInSet?: number;
  /** Human-readable reason, with its location. */
  readonly message: string;
}

/** An envelope is invalid; `issue` holds the code, the ack code and the position. */
export class X12EnvelopeError extends X12Error {
  /** Machine-readable reason. */
  declare readonly code: X12IssueCode;
  /** The first issue found (the others are in `issues`). */
  readonly issue: X12Issue;
  /** Every issue found in the input. */
  readonly issues: readonly X12Issue[];

  /** Creates an error from the issues found; the first one gives the code and message. */
  constructor(issues: readonly X12Issue[]) {
    const first = issues[0]!;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    super(first.code, first.message + more);
    this.name = "X12EnvelopeError";
    this.issue = first;
    this.issues = issues;
  }
}

/** A path string is malformed. */
export class X12PathError extends X12Error {
  /** The offending path, verbatim. */
  readonly path: string;

  /** Creates a path error naming the path. */
  constructor(path: string, detail: string) {
    super("BAD_PATH", `Invalid X12 path ${JSON.stringify(path)}: ${detail}`);
    this.name = "X12PathError";
    this.path = path;
  }
}
