/**
 * Parsing text into a lazily read {@link Hl7Message}: one pass finds segment boundaries and
 * checks segment IDs; fields are split only when read.
 *
 * @module
 */

import { checkDelimiters, type Hl7Delimiters } from "./delimiters.ts";
import { Hl7ParseError, type Hl7ParseErrorCode } from "./errors.ts";
import { ENVELOPE_SEGMENTS, Hl7Message } from "./message.ts";
import { countUpTo, isBlank, isSegmentIdAt, lineAt } from "./structure.ts";

/** Options of {@link parseHl7}. */
export interface ParseOptions {
  /**
   * The MSH segment must have at least this many fields, else the message is reported as
   * `TRUNCATED`. Default 12 (MSH-9 message type to MSH-12 version are required by the
   * standard); use a lower number (minimum 2) to accept headers cut short.
   */
  readonly minMshFields?: number;
}

/** Result of {@link tryParseHl7}. */
export type Hl7ParseResult =
  | { readonly ok: true; readonly message: Hl7Message }
  | { readonly ok: false; readonly error: Hl7ParseError };

function fail(
  code: Hl7ParseErrorCode,
  detail: string,
  text: string,
  segmentIndex: number,
  offset: number,
): never {
  throw new Hl7ParseError(code, detail, { segmentIndex, line: lineAt(text, offset), offset });
}

/** Leading characters tolerated before MSH (kept for the round trip): whitespace, BOM, VT. */
function skipLeading(text: string): number {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0xfeff || c <= 0x20) i++;
    else break;
  }
  return i;
}

/** End of the line starting at `from` (first CR or LF), or the text length. */
function lineEnd(text: string, from: number): number {
  // A loop rather than indexOf: the MSH line is short, indexOf("\n") may scan the whole text.
  let i = from;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10) break;
  }
  return i;
}

/**
 * Parses one HL7 v2 message. Segments may be separated by CR, LF or CRLF (mixed too, blank lines
 * tolerated); whitespace, a BOM or an MLLP start byte before MSH are tolerated and kept.
 *
 * @throws {Hl7ParseError} with a `code` (`EMPTY`, `NO_MSH`, `MSH_TOO_SHORT`, `BAD_DELIMITERS`,
 * `DUPLICATE_DELIMITER`, `NON_PRINTABLE_DELIMITER`, `TRUNCATED`, `INVALID_SEGMENT_NAME`,
 * `UNEXPECTED_SEGMENT`) and the segment, line and offset of the problem.
 */
export function parseHl7(text: string, options: ParseOptions = {}): Hl7Message {
  if (typeof text !== "string") {
    fail("EMPTY", `Expected HL7 text, got ${text === null ? "null" : typeof text}`, "", 0, 0);
  }
  const start = skipLeading(text);
  if (start === text.length) fail("EMPTY", "The message is empty", text, 0, start);
  if (!text.startsWith("MSH", start)) {
    const head = text.slice(start, start + 3);
    const hint = head === "FHS" || head === "BHS" ? " (this is a batch: use splitBatch)" : "";
    fail(
      "NO_MSH",
      `The message must start with MSH, found ${JSON.stringify(head)}${hint}`,
      text,
      0,
      start,
    );
  }
  const mshEnd0 = lineEnd(text, start);
  if (mshEnd0 === start + 3) {
    fail("MSH_TOO_SHORT", "MSH ends before MSH-1 (the field separator)", text, 0, mshEnd0);
  }
  const fs = text[start + 3] as string;
  if (fs !== "|") {
    const fsCheck = checkDelimiters(fs, "^~\\&");
    if (!fsCheck.ok && fsCheck.problem.index === 0) {
      fail(fsCheck.problem.code, fsCheck.problem.detail, text, 0, start + 3);
    }
  }
  const encEnd = text.indexOf(fs, start + 4);
  const closed = encEnd === -1 || encEnd > mshEnd0; // MSH ends within MSH-2
  const encStop = closed ? mshEnd0 : encEnd;
  if (closed && encStop - (start + 4) < 4) {
    fail(
      "MSH_TOO_SHORT",
      `MSH ends inside MSH-2 (the encoding characters): ${
        JSON.stringify(text.slice(start, encStop))
      }`,
      text,
      0,
      encStop,
    );
  }
  const checked = checkDelimiters(fs, text.slice(start + 4, encStop));
  if (!checked.ok) {
    const at = start + 3 + Math.min(checked.problem.index, encStop - start - 3);
    fail(checked.problem.code, checked.problem.detail, text, 0, at);
  }
  const delimiters = checked.delimiters;

  const minFields = Math.max(2, options.minMshFields ?? 12);
  // MSH-n is preceded by n-1 field separators (MSH-1 itself is the first one).
  const seps = countUpTo(text, fs, minFields - 1, start + 3, mshEnd0);
  if (seps < minFields - 1) {
    fail(
      "TRUNCATED",
      `MSH has only ${seps} field(s); MSH-${seps + 1} to MSH-${minFields} are required`,
      text,
      0,
      mshEnd0,
    );
  }
  return scanSegments(text, start, delimiters);
}

/** The single pass over the text: segment boundaries and IDs. */
function scanSegments(
  text: string,
  start: number,
  delimiters: Hl7Delimiters,
): Hl7Message {
  const fs = delimiters.field;
  const len = text.length;
  const starts: number[] = [];
  const ends: number[] = [];
  const names: string[] = [];
  let nextCr = text.indexOf("\r", start);
  let nextLf = text.indexOf("\n", start);
  let pos = start;
  while (pos < len) {
    if (nextCr !== -1 && nextCr < pos) nextCr = text.indexOf("\r", pos);
    if (nextLf !== -1 && nextLf < pos) nextLf = text.indexOf("\n", pos);
    let end: number;
    if (nextCr === -1) end = nextLf === -1 ? len : nextLf;
    else end = nextLf === -1 || nextCr < nextLf ? nextCr : nextLf;
    if (isSegmentIdAt(text, pos, end, fs)) {
      const name = text.slice(pos, pos + 3);
      const c0 = text.charCodeAt(pos);
      // Only M, F and B can start MSH/FHS/BHS/BTS/FTS: skip the set lookup for the rest.
      if (
        (c0 === 77 || c0 === 70 || c0 === 66) && starts.length > 0 &&
        (name === "MSH" || ENVELOPE_SEGMENTS.has(name))
      ) {
        const hint = name === "MSH"
          ? "a second message starts here (use splitBatch for several messages)"
          : "a batch envelope segment cannot appear inside a message (use splitBatch)";
        fail("UNEXPECTED_SEGMENT", `Unexpected ${name} segment: ${hint}`, text, starts.length, pos);
      }
      starts.push(pos);
      ends.push(end);
      names.push(name);
    } else if (!isBlank(text, pos, end)) {
      fail(
        "INVALID_SEGMENT_NAME",
        `Invalid segment ID ${JSON.stringify(text.slice(pos, Math.min(end, pos + 4)))}: expected ` +
          `3 upper-case letters/digits followed by ${JSON.stringify(fs)}`,
        text,
        starts.length,
        pos,
      );
    }
    pos = end;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c !== 13 && c !== 10) break;
      pos++;
    }
  }
  return new Hl7Message({ text, delimiters, starts, ends, names });
}

/** Like {@link parseHl7} but returns `{ok: false, error}` instead of throwing. */
export function tryParseHl7(text: string, options: ParseOptions = {}): Hl7ParseResult {
  try {
    return { ok: true, message: parseHl7(text, options) };
  } catch (e) {
    if (e instanceof Hl7ParseError) return { ok: false, error: e };
    throw e;
  }
}
