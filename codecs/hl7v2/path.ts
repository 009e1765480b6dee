/**
 * Path strings addressing a part of an HL7 v2 message.
 *
 * Grammar (no spaces allowed):
 *
 * ```
 * path      = segment [ "[" segRep "]" ] [ "-" field [ "[" fieldRep "]" ]
 *                                          [ "." component [ "." subcomponent ] ] ]
 * segment   = UPPER ( UPPER | DIGIT ) ( UPPER | DIGIT )      ; e.g. PID, OBX, ZPI, PV1
 * segRep, field, fieldRep, component, subcomponent = 1..99999 (decimal, 1-based)
 * ```
 *
 * `segRep` counts occurrences of the named segment in the message (`OBX[3]` is the third OBX)
 * and `fieldRep` the repetitions of the field (`PID-3[2]` is the second identifier); both
 * default to 1. Examples: `MSH-9.1`, `PID-3[2].1`, `OBX[3]-5`, `PID-5.1.2`, `ZPI-2`, `OBX[2]`.
 * In MSH, field 1 is the field separator and field 2 the encoding characters, as in the
 * standard, so `MSH-9` is the message type.
 *
 * @module
 */

import { Hl7PathError } from "./errors.ts";

/** A parsed path; numbers are 1-based. */
export interface Hl7Path {
  /** The path as written. */
  readonly text: string;
  /** Segment ID, e.g. `PID`. */
  readonly segment: string;
  /** Occurrence of the segment (1-based). */
  readonly segmentRep: number;
  /** Whether `[segRep]` was written. */
  readonly segmentRepGiven: boolean;
  /** Field number, or undefined when the path names a whole segment. */
  readonly field?: number;
  /** Repetition of the field (1-based). */
  readonly fieldRep: number;
  /** Whether `[fieldRep]` was written. */
  readonly fieldRepGiven: boolean;
  /** Component number, if the path goes that deep. */
  readonly component?: number;
  /** Subcomponent number, if the path goes that deep. */
  readonly subcomponent?: number;
}

const MAX_INDEX = 99999;
const cache = new Map<string, Hl7Path>();

function fail(path: string, detail: string): never {
  throw new Hl7PathError("BAD_PATH", path, detail);
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A tiny cursor-based reader; hand-written so that errors can say exactly where they are. */
class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  number(what: string): number {
    const start = this.pos;
    while (this.pos < this.text.length && isDigit(this.text.charCodeAt(this.pos))) this.pos++;
    if (this.pos === start) {
      fail(this.text, `expected ${what} number at character ${start + 1}`);
    }
    if (this.pos - start > 5) fail(this.text, `${what} number is larger than ${MAX_INDEX}`);
    const n = Number(this.text.slice(start, this.pos));
    if (n < 1) fail(this.text, `${what} number must be 1 or more (numbering is 1-based)`);
    return n;
  }

  bracket(what: string): number | undefined {
    if (this.text[this.pos] !== "[") return undefined;
    this.pos++;
    const n = this.number(what);
    if (this.text[this.pos] !== "]") fail(this.text, `expected "]" at character ${this.pos + 1}`);
    this.pos++;
    return n;
  }
}

function parse(text: string): Hl7Path {
  // Paths often come from configuration: say what was given rather than calling it empty.
  if (typeof text !== "string") {
    fail(String(text), `path must be a string, got ${text === null ? "null" : typeof text}`);
  }
  if (text.length === 0) fail(text, "path is empty");
  const a = text.charCodeAt(0), b = text.charCodeAt(1), c = text.charCodeAt(2);
  if (!(isUpper(a) && (isUpper(b) || isDigit(b)) && (isUpper(c) || isDigit(c)))) {
    fail(text, "must start with a segment ID of 3 upper-case letters/digits, e.g. PID-3");
  }
  const r = new Reader(text);
  r.pos = 3;
  const segment = text.slice(0, 3);
  const segRep = r.bracket("segment repetition");
  let field: number | undefined;
  let fieldRep: number | undefined;
  let component: number | undefined;
  let subcomponent: number | undefined;
  if (r.pos < text.length) {
    if (text[r.pos] !== "-") {
      fail(text, `expected "-" before the field number at character ${r.pos + 1}`);
    }
    r.pos++;
    field = r.number("field");
    fieldRep = r.bracket("field repetition");
    if (text[r.pos] === ".") {
      r.pos++;
      component = r.number("component");
      if (text[r.pos] === ".") {
        r.pos++;
        subcomponent = r.number("subcomponent");
      }
    }
    if (r.pos < text.length) {
      fail(text, `unexpected ${JSON.stringify(text[r.pos])} at character ${r.pos + 1}`);
    }
  }
  const out: Hl7Path = {
    text,
    segment,
    segmentRep: segRep ?? 1,
    segmentRepGiven: segRep !== undefined,
    fieldRep: fieldRep ?? 1,
    fieldRepGiven: fieldRep !== undefined,
    ...(field !== undefined ? { field } : {}),
    ...(component !== undefined ? { component } : {}),
    ...(subcomponent !== undefined ? { subcomponent } : {}),
  };
  return Object.freeze(out);
}

/**
 * Parses a path string (grammar in the module doc). Results are cached, so repeated reads with
 * the same literal path cost one map lookup.
 *
 * @throws {Hl7PathError} with code `BAD_PATH` naming the path and the offending character.
 */
export function parseHl7Path(path: string): Hl7Path {
  let p = cache.get(path);
  if (p === undefined) {
    p = parse(path);
    // Bounded so that paths built from data cannot grow the cache without limit.
    if (cache.size >= 4096) cache.clear();
    cache.set(path, p);
  }
  return p;
}

/** Renders a parsed path back to its canonical text (explicit repetitions only if given). */
export function formatHl7Path(p: Hl7Path): string {
  let s = p.segment + (p.segmentRepGiven ? `[${p.segmentRep}]` : "");
  if (p.field === undefined) return s;
  s += `-${p.field}` + (p.fieldRepGiven ? `[${p.fieldRep}]` : "");
  if (p.component !== undefined) s += `.${p.component}`;
  if (p.subcomponent !== undefined) s += `.${p.subcomponent}`;
  return s;
}
