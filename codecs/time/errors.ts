/**
 * What went wrong, for callers that branch on it:
 * - `syntax`: the text does not have the expected shape (characters, length, offset form).
 * - `range`: a field is out of range (month 13, 31 April, 29 February of a common year, ...).
 * - `time-zone`: the IANA time zone is unknown.
 * - `unrepresentable`: the value is valid but the result cannot be written in the target
 *   format (year outside 0001–9999, a local-mean-time offset with seconds in HL7).
 */
export type Hl7TimeErrorCode = "syntax" | "range" | "time-zone" | "unrepresentable";

/** Options for {@link Hl7TimeError}. */
export interface Hl7TimeErrorOptions {
  /** The offending input (value or time zone name). */
  value: string;
  /** What is wrong with it, in a few words. */
  reason: string;
  /** Category of the problem. */
  code: Hl7TimeErrorCode;
  /** Start of the message; default `Invalid HL7 date/time`. */
  subject?: string;
}

/** Thrown (or returned by the `try*` variants) for any invalid date/time or time zone. */
export class Hl7TimeError extends Error {
  /** The offending input. */
  readonly value: string;
  /** What is wrong with it. */
  readonly reason: string;
  /** Category of the problem. */
  readonly code: Hl7TimeErrorCode;

  /** Builds the message `<subject> "<value>": <reason>`. */
  constructor(options: Hl7TimeErrorOptions) {
    const subject = options.subject ?? "Invalid HL7 date/time";
    super(`${subject} ${JSON.stringify(options.value)}: ${options.reason}`);
    this.name = "Hl7TimeError";
    this.value = options.value;
    this.reason = options.reason;
    this.code = options.code;
  }
}

/** Result of the non-throwing `try*` conversions. */
export type Hl7TimeResult = { ok: true; value: string } | { ok: false; error: Hl7TimeError };
