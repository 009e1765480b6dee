/**
 * Building encoded fields and segments from structured values, escaping text on the way. Used to
 * build messages (ACKs, notifications) without string concatenation mistakes.
 *
 * @module
 */

import { DEFAULT_DELIMITERS, encodingCharacters, type Hl7Delimiters } from "./delimiters.ts";
import { Hl7ValueError } from "./errors.ts";
import { escapeHl7 } from "./escape.ts";

/** Already-encoded text, inserted verbatim (e.g. a field copied with `getRaw`). */
export interface Hl7Raw {
  /** The encoded text. */
  readonly raw: string;
}

/** A component: text, raw text, or its subcomponents. */
export type Hl7ComponentValue = string | Hl7Raw | readonly (string | Hl7Raw)[];

/** One repetition of a field: text, raw text, or its components. */
export type Hl7RepetitionValue = string | Hl7Raw | readonly Hl7ComponentValue[];

/**
 * A field value: text (escaped), `{raw}` (verbatim), an array of components (each text, raw or an
 * array of subcomponents), `{repetitions: [...]}`, or null/undefined for an empty field.
 */
export type Hl7FieldValue =
  | Hl7RepetitionValue
  | { readonly repetitions: readonly Hl7RepetitionValue[] }
  | null
  | undefined;

function isRaw(v: unknown): v is Hl7Raw {
  return typeof v === "object" && v !== null && "raw" in v;
}

function leaf(v: string | Hl7Raw, d: Hl7Delimiters): string {
  return typeof v === "string" ? escapeHl7(v, d) : v.raw;
}

function component(v: Hl7ComponentValue, d: Hl7Delimiters): string {
  if (typeof v === "string" || isRaw(v)) return leaf(v, d);
  return v.map((s) => leaf(s, d)).join(d.subcomponent);
}

function repetition(v: Hl7RepetitionValue, d: Hl7Delimiters): string {
  if (typeof v === "string" || isRaw(v)) return leaf(v, d);
  return v.map((c) => component(c, d)).join(d.component);
}

/** Encodes one field value with the given delimiters (default `|^~\&`). */
export function encodeField(
  value: Hl7FieldValue,
  delimiters: Hl7Delimiters = DEFAULT_DELIMITERS,
): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object" && "repetitions" in value) {
    return value.repetitions.map((r) => repetition(r, delimiters)).join(delimiters.repetition);
  }
  return repetition(value, delimiters);
}

/** Options of {@link encodeSegment}. */
export interface EncodeSegmentOptions {
  /** Delimiters (default `|^~\&`). */
  readonly delimiters?: Hl7Delimiters;
  /** Keep trailing empty fields instead of dropping them. Default false. */
  readonly keepTrailingEmpty?: boolean;
}

/**
 * Encodes a segment: `fields[0]` is field 1. For `MSH`, field 1 and 2 (the delimiters) are
 * written from the delimiters, so `fields[0]` is MSH-3.
 */
export function encodeSegment(
  name: string,
  fields: readonly Hl7FieldValue[],
  options: EncodeSegmentOptions = {},
): string {
  const d = options.delimiters ?? DEFAULT_DELIMITERS;
  if (!SEGMENT_IDS.has(name)) {
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name)) {
      throw new Hl7ValueError("BAD_SEGMENT", `Invalid segment ID ${JSON.stringify(name)}`);
    }
    if (SEGMENT_IDS.size < 1024) SEGMENT_IDS.add(name);
  }
  return joinSegment(name, fields.map((f) => encodeField(f, d)), options);
}

/**
 * A segment from fields already encoded (`fields[0]` is field 1; for `MSH`, MSH-3), trailing empty
 * ones dropped unless `keepTrailingEmpty`. The segment ID is not checked: callers pass their own.
 */
export function joinSegment(
  name: string,
  fields: readonly string[],
  options: EncodeSegmentOptions = {},
): string {
  const d = options.delimiters ?? DEFAULT_DELIMITERS;
  let end = fields.length;
  if (!options.keepTrailingEmpty) { while (end > 0 && fields[end - 1] === "") end--; }
  // Built as one string: ACKs are encoded for every message received.
  let out = name === "MSH" ? name + d.field + encodingCharacters(d) : name;
  for (let i = 0; i < end; i++) out += d.field + fields[i];
  return out;
}

/** Segment IDs already checked (bounded: IDs come from code, not from messages). */
const SEGMENT_IDS = new Set<string>();
