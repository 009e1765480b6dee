/**
 * Splitting X12 text into segments, incrementally: text arrives in chunks of any size and every
 * complete segment is returned as soon as its terminator (and any line break after it) is seen.
 * Each ISA sets the separators of the segments that follow it, so a file may hold interchanges
 * with different separators.
 *
 * @module
 */

import { X12ParseError } from "./errors.ts";
import { X12Segment, type X12Separators } from "./segment.ts";

/** Characters that may not be separators: letters, digits and space. */
function isAlphanumeric(ch: string): boolean {
  return /^[A-Za-z0-9 ]$/.test(ch);
}

/** Line-break characters tolerated (and kept) after a segment terminator. */
function isBreak(code: number): boolean {
  return code === 10 || code === 13;
}

/** A segment ID: an upper-case letter then one or two upper-case letters or digits. */
function isSegmentId(id: string): boolean {
  if (id.length < 2 || id.length > 3) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (i > 0 && c >= 48 && c <= 57))) return false;
  }
  return true;
}

/** Result of reading an ISA's separators at the start of a buffer. */
interface IsaRead {
  readonly separators: X12Separators;
  /** Index of the segment terminator after ISA16. */
  readonly terminatorAt: number;
}

/**
 * Reads the separators of the ISA starting at `at`: the element separator after `ISA`, ISA11
 * (repetition, when not a letter), ISA16 (component) and the character after it (terminator).
 * Returns `undefined` when the buffer does not yet hold the whole ISA.
 */
function readIsa(text: string, at: number, segmentIndex: number): IsaRead | undefined {
  const element = text[at + 3];
  if (element === undefined) return undefined;
  const where = { segmentIndex, offset: at, segmentId: "ISA" };
  if (isAlphanumeric(element) || isBreak(element.charCodeAt(0))) {
    throw new X12ParseError(
      "BAD_SEPARATORS",
      `The element separator after ISA is ${JSON.stringify(element)}`,
      where,
    );
  }
  // ISA is fixed length (106 characters) by the standard; find the 16th separator rather than
  // trusting the length, so that a sender who trims ISA elements can still be read and answered.
  let q = at + 3;
  let rep11 = "";
  for (let n = 1; n <= 15; n++) {
    const next = text.indexOf(element, q + 1);
    if (next === -1 || next - at > 200) {
      if (text.length - at < 200) return undefined;
      throw new X12ParseError("ISA_TOO_SHORT", `ISA has fewer than 16 elements`, where);
    }
    if (n === 11) rep11 = text.slice(q + 1, next);
    q = next;
  }
  if (text.length < q + 3) return undefined;
  const component = text[q + 1]!;
  const segment = text[q + 2]!;
  const repetition = rep11.length === 1 && !isAlphanumeric(rep11) ? rep11 : undefined;
  if (isAlphanumeric(component)) {
    throw new X12ParseError(
      "BAD_SEPARATORS",
      `The component separator ISA16 is ${JSON.stringify(component)}`,
      { ...where, element: 16 },
    );
  }
  if (isAlphanumeric(segment)) {
    throw new X12ParseError(
      "BAD_SEPARATORS",
      `The segment terminator after ISA16 is ${JSON.stringify(segment)}`,
      { ...where, element: 16 },
    );
  }
  const all = [element, component, segment, ...(repetition ? [repetition] : [])];
  if (new Set(all).size !== all.length) {
    throw new X12ParseError(
      "BAD_SEPARATORS",
      `Two separators are the same character (${all.map((c) => JSON.stringify(c)).join(" ")})`,
      where,
    );
  }
  return { separators: { element, repetition, component, segment }, terminatorAt: q + 2 };
}

/**
 * Incremental segment splitter. Feed text with {@link X12Tokenizer.push}, then call
 * {@link X12Tokenizer.finish}; both return the segments completed so far. Whitespace and a BOM
 * before the first ISA are kept in `leading`, whitespace after the last segment in `trailing`.
 */
export class X12Tokenizer {
  /** Text before the first ISA (whitespace or a BOM). */
  leading = "";
  /** Whitespace after the last segment's line break. */
  trailing = "";
  #buf = "";
  #base = 0;
  #index = 0;
  #separators: X12Separators | undefined;
  #started = false;

  /** The separators in force (those of the last ISA read). */
  get separators(): X12Separators | undefined {
    return this.#separators;
  }

  /** Adds text; returns the segments it completed. */
  push(text: string): X12Segment[] {
    this.#buf += text;
    return this.#drain(false);
  }

  /** Ends the input; returns the last segments. Throws when the input has no ISA at all. */
  finish(): X12Segment[] {
    const out = this.#drain(true);
    const rest = this.#buf;
    if (!this.#started) {
      if (rest.trim() === "" && this.leading.replace(/^\uFEFF/, "").trim() === "") {
        throw new X12ParseError("EMPTY", "The input is empty", { segmentIndex: 0, offset: 0 });
      }
    }
    if (/^\s*$/.test(rest)) {
      this.trailing = rest;
    }
    this.#buf = "";
    return out;
  }

  #drain(final: boolean): X12Segment[] {
    const out: X12Segment[] = [];
    const buf = this.#buf;
    let pos = 0;
    if (!this.#started) {
      let i = 0;
      while (i < buf.length && (buf.charCodeAt(i) === 0xfeff || buf.charCodeAt(i) <= 0x20)) i++;
      if (i === buf.length && !final) return out;
      if (i < buf.length) {
        if (buf.length - i < 3 && !final) return out;
        if (!buf.startsWith("ISA", i)) {
          throw new X12ParseError(
            "NO_ISA",
            `X12 must start with ISA, found ${JSON.stringify(buf.slice(i, i + 3))}`,
            { segmentIndex: 0, offset: i },
          );
        }
        this.leading = buf.slice(0, i);
        this.#started = true;
        pos = i;
      } else {
        return out;
      }
    }
    while (pos < buf.length) {
      const offset = this.#base + pos;
      let separators = this.#separators;
      let end: number;
      if (buf.startsWith("ISA", pos) && (separators === undefined || buf.length - pos > 3)) {
        const isa = readIsa(buf, pos, this.#index);
        if (isa === undefined) {
          if (final) {
            throw new X12ParseError("ISA_TOO_SHORT", "The input ends inside ISA", {
              segmentIndex: this.#index,
              offset,
              segmentId: "ISA",
            });
          }
          break;
        }
        separators = this.#separators = isa.separators;
        end = isa.terminatorAt;
      } else {
        if (separators === undefined) break;
        end = buf.indexOf(separators.segment, pos);
        if (end === -1) {
          if (!final) break;
          // A last segment cut short of its terminator: kept (end '') so the text round-trips.
          if (/^\s*$/.test(buf.slice(pos))) break;
          end = buf.length;
        }
      }
      // Wait for the character after the terminator: it may be a line break kept with it.
      if (end + 1 >= buf.length && !final && end < buf.length) break;
      let stop = Math.min(end + 1, buf.length);
      while (
        stop < buf.length && isBreak(buf.charCodeAt(stop)) && buf[stop] !== separators.segment
      ) {
        stop++;
      }
      if (stop === buf.length && !final) {
        // The line break may continue in the next chunk.
        if (stop > end + 1) break;
      }
      const body = buf.slice(pos, end);
      let idEnd = body.indexOf(separators.element);
      if (idEnd === -1) idEnd = body.length;
      const id = body.slice(0, idEnd);
      if (!isSegmentId(id)) {
        // Whitespace after the last segment (a blank line when the terminator is a newline).
        if (/^\s*$/.test(buf.slice(pos))) break;
        throw new X12ParseError(
          "INVALID_SEGMENT_ID",
          `Segment ID ${JSON.stringify(id.slice(0, 10))} is not 2-3 upper-case letters or digits`,
          { segmentIndex: this.#index, offset },
        );
      }
      out.push(
        new X12Segment({
          id,
          raw: body,
          end: buf.slice(end, stop),
          separators,
          index: this.#index++,
          offset,
        }),
      );
      pos = stop;
    }
    this.#buf = buf.slice(pos);
    this.#base += pos;
    return out;
  }
}

/** Splits a whole text into segments (see {@link X12Tokenizer}). */
export function tokenizeX12(text: string): {
  segments: X12Segment[];
  leading: string;
  trailing: string;
} {
  const t = new X12Tokenizer();
  const segments = t.push(text);
  for (const s of t.finish()) segments.push(s);
  return { segments, leading: t.leading, trailing: t.trailing };
}
