/**
 * MSH-18 for text the engine sends as UTF-8: where the bytes sent are not the ones MSH-18 describes
 * (a message transcoded to UTF-8, HL7 written from JSON), MSH-18 must say `UNICODE UTF-8`, or a
 * receiver that trusts it reads `Müller` as `MÃ¼ller`.
 *
 * {@link utf8LabelEdit} decides whether MSH-18 must change and where; {@link applyMsh18Edit} and
 * {@link withUtf8Label} make the change. The whole field is replaced (repetitions included); an
 * MSH with fewer than 18 fields is padded with empty fields in its own field separator; the fields
 * after MSH-18 and every other byte stay as they are.
 *
 * The rule ({@link utf8LabelNeeded}), for text about to go out as UTF-8:
 * - transcoded (the bytes sent are not the received bytes: a one-byte or legacy charset, the
 *   fallback charset, UTF-16, a BOM removed): a non-empty MSH-18 is replaced; an absent one is
 *   added when the text is not pure ASCII (ASCII needs no label);
 * - sent as it is (already UTF-8): an MSH-18 whose first repetition names UTF-8 stays; one naming
 *   UTF-16 is replaced (the bytes are not UTF-16, whatever the text); otherwise (absent, `ASCII`,
 *   a name the engine does not know, a one-byte charset) MSH-18 is set when the text is not pure
 *   ASCII, since the engine read those bytes as UTF-8 and says so in the content type.
 *
 * @module
 */

import { charsetLabel } from "./charset.ts";

/** The MSH-18 value for UTF-8 text (HL7 table 0211). */
export const UTF8_LABEL = "UNICODE UTF-8";

/**
 * A change to MSH-18: replace offsets `start`..`end` (UTF-16 units of a string, or bytes) by
 * `insert`.
 */
export interface Msh18Edit {
  readonly start: number;
  readonly end: number;
  /** Field separators (padding), then the new value; ASCII. */
  readonly insert: string;
}

/** MSH-18 of a message, as found, and where it is. */
export interface Msh18Field {
  /** The whole field as written (all repetitions); `""` when empty or absent. */
  readonly raw: string;
  /** The first repetition, trimmed; `""` when none. */
  readonly first: string;
  /** Where the field's value starts (after padding, when MSH has fewer than 18 fields). */
  readonly start: number;
  /** Where the field's value ends (its next field separator, the line end or the text's end). */
  readonly end: number;
  /** Field separators to add before the value: MSH ends before MSH-18. */
  readonly pad: number;
  /** The field separator. */
  readonly separator: string;
  /** The encoding characters (MSH-2), as written. */
  readonly encoding: string;
}

/** Message text or bytes (ASCII-compatible: UTF-8, a one-byte charset). */
export type Hl7Source = string | Uint8Array;

/** How long a search for the MSH line goes, as `readMsh18` (charset.ts). */
const MSH_SEARCH = 65536;

function codeAt(source: Hl7Source): (i: number) => number {
  return typeof source === "string" ? (i) => source.charCodeAt(i) : (i) => source[i] as number;
}

function isLineEnd(c: number): boolean {
  return c === 13 || c === 10;
}

/** Offset of the first line starting with `MSH` in the first 64 KiB, or -1 (as charset.ts). */
function findMsh(length: number, at: (i: number) => number): number {
  const limit = Math.min(length, MSH_SEARCH);
  let p = 0;
  while (p < limit) {
    while (p < limit && at(p) <= 0x20) p++;
    if (p + 2 < length && at(p) === 0x4d && at(p + 1) === 0x53 && at(p + 2) === 0x48) return p;
    while (p < limit && !isLineEnd(at(p))) p++;
  }
  return -1;
}

/**
 * MSH-18 of `source` and where it is; undefined when there is no MSH line (in the first 64 KiB)
 * or its field separator is missing or a line end.
 */
export function msh18Field(source: Hl7Source): Msh18Field | undefined {
  const at = codeAt(source);
  const length = source.length;
  const p = findMsh(length, at);
  if (p === -1 || p + 3 >= length) return undefined;
  const fs = at(p + 3);
  if (isLineEnd(fs)) return undefined;
  const text = (from: number, to: number) => {
    let s = "";
    for (let k = from; k < to; k++) s += String.fromCharCode(at(k));
    return s;
  };
  let i = p + 4;
  while (i < length && at(i) !== fs && !isLineEnd(at(i))) i++;
  const encoding = text(p + 4, i);
  const rep = encoding.charCodeAt(1); // NaN when MSH-2 has one character or none
  // MSH-18 starts after the 17th field separator (the one at MSH-1 counts as the first).
  let seen = 1;
  while (i < length && !isLineEnd(at(i)) && seen < 17) {
    if (at(i) === fs) seen++;
    if (seen < 17) i++;
  }
  const separator = String.fromCharCode(fs);
  if (seen < 17) {
    return { raw: "", first: "", start: i, end: i, pad: 17 - seen, separator, encoding };
  }
  const start = i + 1;
  let end = start;
  let firstEnd = -1;
  while (end < length && at(end) !== fs && !isLineEnd(at(end))) {
    if (firstEnd === -1 && at(end) === rep) firstEnd = end;
    end++;
  }
  const raw = text(start, end);
  const first = text(start, firstEnd === -1 ? end : firstEnd).trim();
  return { raw, first, start, end, pad: 0, separator, encoding };
}

/** The decoder's name for the charset MSH-18 names: `utf-8`, `utf-16le`, ...; undefined if none. */
function encodingNamed(name: string): string | undefined {
  const label = name === "" ? undefined : charsetLabel(name);
  return label === undefined || label === "ascii" ? undefined : new TextDecoder(label).encoding;
}

/** What {@link utf8LabelNeeded} weighs. */
export interface Utf8LabelFacts {
  /** The bytes sent are not the bytes received (decoded and encoded again, or a BOM removed). */
  readonly transcoded: boolean;
  /** The text sent holds a character above U+007F. */
  readonly nonAscii: boolean;
}

/** Whether `field` (undefined: no MSH line) must become {@link UTF8_LABEL}: the module's rule. */
export function utf8LabelNeeded(field: Msh18Field | undefined, facts: Utf8LabelFacts): boolean {
  if (field === undefined) return false;
  if (facts.transcoded) return field.raw.trim() !== "" || facts.nonAscii;
  const named = encodingNamed(field.first);
  if (named === "utf-8") return false;
  if (named === "utf-16le" || named === "utf-16be") return true;
  return facts.nonAscii;
}

/**
 * The edit that makes MSH-18 of `source` (UTF-8 text or bytes about to be sent) say
 * {@link UTF8_LABEL}, when the module's rule asks for one and it changes something; undefined
 * otherwise, and when the label would hold one of the message's delimiters.
 */
export function utf8LabelEdit(source: Hl7Source, facts: Utf8LabelFacts): Msh18Edit | undefined {
  const field = msh18Field(source);
  if (field === undefined || !utf8LabelNeeded(field, facts)) return undefined;
  if (field.pad === 0 && field.raw === UTF8_LABEL) return undefined;
  const delimiters = field.separator + field.encoding;
  for (const c of delimiters) if (UTF8_LABEL.includes(c)) return undefined;
  return {
    start: field.start,
    end: field.end,
    insert: field.separator.repeat(field.pad) + UTF8_LABEL,
  };
}

/** `bytes` with `edit` made (a new array; `bytes` is not changed). */
export function applyMsh18Edit(bytes: Uint8Array, edit: Msh18Edit): Uint8Array {
  const insert = Uint8Array.from(edit.insert, (c) => c.charCodeAt(0));
  const out = new Uint8Array(bytes.length - (edit.end - edit.start) + insert.length);
  out.set(bytes.subarray(0, edit.start));
  out.set(insert, edit.start);
  out.set(bytes.subarray(edit.end), edit.start + insert.length);
  return out;
}

/**
 * HL7 text that is to be sent as UTF-8 (not transcoded), with MSH-18 = {@link UTF8_LABEL} where
 * the module's rule asks for it: when the text is not pure ASCII and MSH-18 does not name UTF-8,
 * or when MSH-18 names UTF-16.
 */
export function withUtf8Label(text: string): string {
  // deno-lint-ignore no-control-regex
  const nonAscii = /[^\x00-\x7f]/.test(text);
  const edit = utf8LabelEdit(text, { transcoded: false, nonAscii });
  return edit === undefined ? text : text.slice(0, edit.start) + edit.insert + text.slice(edit.end);
}
