/**
 * Acknowledgments: ACK/NAK for a parsed message in original (AA/AE/AR) or enhanced (CA/CE/CR)
 * mode, and a reject for input whose MSH could not be read.
 *
 * @module
 */

import { checkDelimiters, DEFAULT_DELIMITERS, type Hl7Delimiters } from "./delimiters.ts";
import type { Hl7ParseErrorCode } from "./errors.ts";
import { encodeField, encodeSegment, type Hl7FieldValue, joinSegment } from "./encode.ts";
import { escapeHl7 } from "./escape.ts";
import type { Hl7Message } from "./message.ts";
import { parseHl7 } from "./parse.ts";
import { parseHl7Path } from "./path.ts";
import { nthPart } from "./structure.ts";

/** MSA-1 codes: original mode AA/AE/AR, enhanced mode (accept level) CA/CE/CR. */
export type AckCode = "AA" | "AE" | "AR" | "CA" | "CE" | "CR";

/** ERR-4 severity (HL7 table 0516): Error, Warning, Information, Fatal. */
export type ErrorSeverity = "E" | "W" | "I" | "F";

/** HL7 table 0357 (message error condition codes) with their display texts. */
export const HL70357: Readonly<Record<string, string>> = Object.freeze({
  "0": "Message accepted",
  "100": "Segment sequence error",
  "101": "Required field missing",
  "102": "Data type error",
  "103": "Table value not found",
  "104": "Value too long",
  "200": "Unsupported message type",
  "201": "Unsupported event code",
  "202": "Unsupported processing id",
  "203": "Unsupported version id",
  "204": "Unknown key identifier",
  "205": "Duplicate key identifier",
  "206": "Application record locked",
  "207": "Application internal error",
});

/**
 * The HL7 table 0357 condition (and ERR-2 location) of a parse failure: the sender's message is
 * at fault, so never 207. 100 when no MSH opens it or a segment is malformed or out of place,
 * 101 when MSH ends before a required field, 102 when MSH-2 holds unusable delimiters.
 */
export function parseErrorCondition(code: Hl7ParseErrorCode): { code: string; location: string } {
  switch (code) {
    case "MSH_TOO_SHORT":
      return { code: "101", location: "MSH-2" };
    case "TRUNCATED":
      return { code: "101", location: "MSH" };
    case "BAD_DELIMITERS":
    case "DUPLICATE_DELIMITER":
    case "NON_PRINTABLE_DELIMITER":
      return { code: "102", location: "MSH-2" };
    default:
      return { code: "100", location: "MSH" };
  }
}

/** One error (or warning) reported in an ERR segment. */
export interface AckError {
  /** HL7 table 0357 code for ERR-3 (default `207`, Application internal error). */
  readonly code?: string;
  /** ERR-4 severity (default `E`). */
  readonly severity?: ErrorSeverity;
  /** Human-readable message for ERR-8 (escaped). */
  readonly text: string;
  /**
   * ERR-2 error location: an HL7 path such as `PID-3[1].1` (converted to ERL `PID^1^3^1^1`) or
   * text that is not a path, which is taken as already-encoded ERL (escaped as plain text instead
   * if it holds the field separator, CR or LF).
   */
  readonly location?: string;
}

/** Options of {@link buildAck}. */
export interface AckOptions {
  /** MSA-1 acknowledgment code. */
  readonly code: AckCode;
  /** MSA-3 text (escaped). Defaults to the first error's text for negative codes. */
  readonly text?: string;
  /** Error(s) for ERR segments; a negative code without one gets a `207` error. */
  readonly error?: AckError | readonly AckError[];
  /** MSH-10 of the ACK (default: {@link newControlId}). */
  readonly controlId?: string;
  /** MSH-7 time (default: now), written in UTC as `YYYYMMDDHHMMSS+0000`. */
  readonly now?: Date;
  /** MSH-11 (default: copied from the original, else `P`). */
  readonly processingId?: string;
}

/** Options of {@link buildNakForUnparsable}. */
export interface NakOptions {
  /** Why the message was rejected (ERR-8 and MSA-3). */
  readonly reason: string;
  /** The received text, from which whatever can be read of MSH is used. */
  readonly raw?: string;
  /** MSA-1 code: `AR` (default) or `CR` in enhanced mode (`AE`/`CE` also accepted). */
  readonly code?: AckCode;
  /**
   * ERR-3 code from table 0357 (default `100`: the input is the sender's fault; see
   * {@link parseErrorCondition}).
   */
  readonly errorCode?: string;
  /** ERR-2 location (an HL7 path such as `MSH-2`). */
  readonly errorLocation?: string;
  /** Field separator to use when the received one is unusable (default `|`). */
  readonly fieldSeparator?: string;
  /** MSH-2 to use when the received one is unusable (default `^~\&`). */
  readonly encodingCharacters?: string;
  /** MSH-3 when the received MSH-5 is unknown. */
  readonly sendingApplication?: string;
  /** MSH-4 when the received MSH-6 is unknown. */
  readonly sendingFacility?: string;
  /** MSH-12 when the received one is unknown (default `2.5.1`). */
  readonly version?: string;
  /** MSH-10 of the reject (default: {@link newControlId}). */
  readonly controlId?: string;
  /** MSH-7 time (default: now). */
  readonly now?: Date;
}

/** Raw (encoded) MSH-n of the message being acknowledged, or undefined if unknown. */
type HeaderReader = (n: number) => string | undefined;

let counter = 0;
/** Random words drawn 256 at a time: one call to the CSPRNG per 256 ids, not per id. */
const randomPool = new Uint32Array(256);
let randomLeft = 0;

/** A fresh message control ID of at most 20 characters (time, counter and randomness). */
export function newControlId(): string {
  if (randomLeft === 0) {
    crypto.getRandomValues(randomPool);
    randomLeft = randomPool.length;
  }
  const rnd = randomPool[--randomLeft] as number;
  counter = (counter + 1) % 1296;
  return (Date.now().toString(36) + counter.toString(36).padStart(2, "0") +
    rnd.toString(36).padStart(7, "0")).toUpperCase().slice(0, 20);
}

/** The last second formatted, and its text: an ACK is built for every message received. */
let stampSecond = NaN;
let stampText = "";

/** HL7 DTM in UTC: `YYYYMMDDHHMMSS+0000`. */
export function formatHl7Timestamp(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second === stampSecond) return stampText;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const text = p(date.getUTCFullYear(), 4) + p(date.getUTCMonth() + 1) + p(date.getUTCDate()) +
    p(date.getUTCHours()) + p(date.getUTCMinutes()) + p(date.getUTCSeconds()) + "+0000";
  // An invalid date (NaN) is formatted each time, and never remembered.
  if (second === second) {
    stampSecond = second;
    stampText = text;
  }
  return text;
}

/**
 * ERR-2 (ERL) from a path, or the text itself when it is not a path: verbatim (already-encoded
 * ERL), unless it holds a field separator, CR or LF, which would end ERR-2 or the segment and
 * make the ACK unparsable; such text is escaped as plain text instead.
 */
function errorLocation(location: string, d: Hl7Delimiters): Hl7FieldValue {
  try {
    const p = parseHl7Path(location);
    const parts = [p.segment, String(p.segmentRep)];
    if (p.field !== undefined) parts.push(String(p.field), String(p.fieldRep));
    if (p.component !== undefined) parts.push(String(p.component));
    if (p.subcomponent !== undefined) parts.push(String(p.subcomponent));
    return parts;
  } catch {
    const unsafe = location.includes(d.field) || location.includes("\r") ||
      location.includes("\n");
    return unsafe ? location : { raw: location };
  }
}

function isOldVersion(version: string | undefined): boolean {
  return version !== undefined && /^2\.[1-4](\D|$)/.test(version);
}

function errSegment(e: AckError, d: Hl7Delimiters, version: string | undefined): string {
  const code = e.code ?? "207";
  const name = HL70357[code] ?? "";
  if (isOldVersion(version)) {
    // v2.1-2.4 only have ERR-1 (ELD): segment^sequence^field^code&text&HL70357.
    const loc = e.location !== undefined ? errorLocation(e.location, d) : undefined;
    const l = Array.isArray(loc) ? loc : ["", "", ""];
    return encodeSegment("ERR", [[l[0] ?? "", l[1] ?? "", l[2] ?? "", [code, name, "HL70357"]]], {
      delimiters: d,
    });
  }
  return encodeSegment("ERR", [
    null,
    e.location !== undefined ? errorLocation(e.location, d) : null,
    [code, name, "HL70357"],
    e.severity ?? "E",
    null,
    null,
    null,
    e.text,
  ], { delimiters: d });
}

interface AckParts {
  readonly header: HeaderReader;
  readonly delimiters: Hl7Delimiters;
  readonly code: AckCode;
  readonly text?: string;
  readonly errors: readonly AckError[];
  readonly controlId?: string;
  readonly now?: Date;
  readonly processingId?: string;
  readonly fallbackVersion?: string;
}

function assemble(a: AckParts): Hl7Message {
  return parseHl7(assembleText(a), { minMshFields: 2 });
}

function assembleText(a: AckParts): string {
  const d = a.delimiters;
  // Fields as encoded text: header fields are copied as they are, text is escaped. (An ACK is
  // built for every message received: no field objects on the way.)
  const raw = (n: number): string => a.header(n) ?? "";
  const text = (v: string): string => escapeHl7(v, d);
  // MSH-9's first repetition is already taken by `header`.
  const msh9 = a.header(9);
  const triggerRaw = msh9 === undefined ? undefined : nthPart(msh9, d.component, 2);
  const version = a.header(12) ?? a.fallbackVersion;
  const ack = text("ACK");
  const header11 = a.header(11);
  const msh = joinSegment("MSH", [
    raw(5),
    raw(6),
    raw(3),
    raw(4),
    text(formatHl7Timestamp(a.now ?? new Date())),
    "",
    triggerRaw
      ? ack + d.component + (nthPart(triggerRaw, d.subcomponent, 1) ?? "") + d.component + ack
      : ack,
    text(a.controlId ?? newControlId()),
    a.processingId !== undefined ? text(a.processingId) : header11 ? header11 : text("P"),
    version ?? "",
    "",
    "",
    "",
    "",
    "",
    raw(18),
  ], { delimiters: d });
  const negative = a.code !== "AA" && a.code !== "CA";
  const errors = a.errors.length === 0 && negative
    ? [{ code: "207", text: a.text ?? HL70357["207"] as string }]
    : a.errors;
  const msaText = a.text ?? (negative ? errors[0]?.text : undefined);
  const msa = joinSegment(
    "MSA",
    [text(a.code), raw(10), msaText === undefined ? "" : text(msaText)],
    { delimiters: d },
  );
  let out = msh + "\r" + msa + "\r";
  for (const e of errors) out += errSegment(e, d, version) + "\r";
  return out;
}

/**
 * Builds the acknowledgment of `original`: MSH-3/4 and MSH-5/6 swapped, MSH-9
 * `ACK^<trigger>^ACK`, MSH-11, MSH-12 and MSH-18 copied, a fresh MSH-10; MSA-1 the code, MSA-2
 * the original MSH-10; one ERR per error (ERR-2 location, ERR-3 `code^text^HL70357`, ERR-4
 * severity, ERR-8 message; ERR-1 instead for v2.1-2.4). Negative codes always get an ERR.
 * Uses the original's delimiters so copied fields stay valid; segments end with CR.
 */
export function buildAck(original: Hl7Message, options: AckOptions): Hl7Message {
  return parseHl7(buildAckText(original, options), { minMshFields: 2 });
}

const NO_ERRORS: readonly AckError[] = Object.freeze([]);

/** `buildAck(original, options).encode()`, without parsing the ACK it builds. */
export function buildAckText(original: Hl7Message, options: AckOptions): string {
  const errors = options.error === undefined
    ? NO_ERRORS
    : Array.isArray(options.error)
    ? options.error as readonly AckError[]
    : [options.error as AckError];
  const repetition = original.delimiters.repetition;
  return assembleText({
    header: (n) => {
      const whole = original.mshField(n);
      if (!whole) return undefined;
      // MSH-18 whole (its repetitions name the character sets); any other field's first one.
      const first = n === 18 ? whole : nthPart(whole, repetition, 1);
      return first === "" ? undefined : first;
    },
    delimiters: original.delimiters,
    code: options.code,
    errors,
    ...(options.text !== undefined ? { text: options.text } : {}),
    ...(options.controlId !== undefined ? { controlId: options.controlId } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.processingId !== undefined ? { processingId: options.processingId } : {}),
  });
}

const MAX_SCRAPED = 200;

/** Reads what it can of the first MSH line of unparsable text. */
function scrape(raw: string | undefined): { fields: string[]; delimiters?: Hl7Delimiters } {
  if (typeof raw !== "string") return { fields: [] };
  const m = /(?:^|[\r\n])[\s\ufeff]*MSH(.)/.exec(raw.slice(0, 65536));
  if (!m || m[1] === undefined || /[\r\n]/.test(m[1])) return { fields: [] };
  const from = m.index + m[0].length - 4;
  const line = raw.slice(from).split(/[\r\n]/, 1)[0] ?? "";
  const fields = line.split(m[1]).map((f) => f.slice(0, MAX_SCRAPED));
  const checked = checkDelimiters(m[1], fields[1] ?? "");
  return checked.ok ? { fields, delimiters: checked.delimiters } : { fields };
}

/**
 * Builds a reject (AR by default) for input that could not be parsed. Whatever can be read of
 * its first MSH line is used (sender/receiver swapped, MSA-2 = its MSH-10, version, charset);
 * when its delimiters are unusable, the given or default ones are used and the scraped values
 * are escaped as text.
 */
export function buildNakForUnparsable(options: NakOptions): Hl7Message {
  const { fields, delimiters: theirs } = scrape(options.raw);
  let d = theirs;
  if (d === undefined) {
    const c = checkDelimiters(
      options.fieldSeparator ?? DEFAULT_DELIMITERS.field,
      options.encodingCharacters ?? "^~\\&",
    );
    d = c.ok ? c.delimiters : DEFAULT_DELIMITERS;
  }
  const dd = d;
  const header: HeaderReader = (n) => {
    const v = fields[n - 1];
    if (v === undefined || v === "" || n < 3) {
      if (n === 5 && options.sendingApplication !== undefined) {
        return encodeField(options.sendingApplication, dd);
      }
      if (n === 6 && options.sendingFacility !== undefined) {
        return encodeField(options.sendingFacility, dd);
      }
      return undefined;
    }
    return theirs ? v : encodeField(v, dd);
  };
  return assemble({
    header,
    delimiters: dd,
    code: options.code ?? "AR",
    text: options.reason,
    errors: [{
      code: options.errorCode ?? "100",
      text: options.reason,
      ...(options.errorLocation !== undefined ? { location: options.errorLocation } : {}),
    }],
    fallbackVersion: options.version ?? "2.5.1",
    ...(options.controlId !== undefined ? { controlId: options.controlId } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
}
