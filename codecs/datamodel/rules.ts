/**
 * The mapping language: one table per data model says which HL7 v2 leaf carries which JSON
 * property. The reader (HL7 → JSON), the writer (JSON → HL7) and the validator all walk the
 * same table, so the two directions cannot drift apart.
 *
 * Vocabulary:
 * - a *leaf* is one subcomponent of one field repetition (`PID-5[1].2.1`); every rule reads
 *   and writes whole leaves, so that no delimiter ends up inside a JSON string;
 * - a *scope* is the message itself or one instance of a repeating segment group (an order
 *   with its results); each scope owns one JSON object and lists its segments in the order the
 *   writer emits them.
 *
 * @module
 */

import type { CodeTable } from "./values.ts";

/** How a leaf's text becomes a JSON value and back. */
export type ValueType =
  /** Text, escape sequences decoded (default). */
  | "string"
  /** HL7 DT ⇄ `YYYY[-MM[-DD]]`; a time part in HL7 is dropped (and kept as an extension). */
  | "date"
  /** HL7 DTM ⇄ ISO 8601 in UTC (`…Z`); dates stay dates. */
  | "datetime"
  /** HL7 NM ⇄ JSON number. */
  | "number"
  /** A code table to JSON `true`/`false` (needs `codes`). */
  | "boolean"
  /** Base64 text (encapsulated data), size-checked. */
  | "base64";

/** A leaf address inside a segment: field, repetition, component, subcomponent (1-based). */
export interface LeafAddress {
  readonly field: number;
  readonly rep: number;
  readonly comp: number;
  readonly sub: number;
}

/** Reads leaves of the segment a rule applies to (decoded text, `undefined` when absent). */
export interface SegmentView {
  /** Decoded text of a leaf given as `"F[.C[.S]]"`, `undefined` when absent or empty. */
  text(h: string): string | undefined;
}

/** What a writer-side predicate or a constant may look at. */
export interface WriteContext {
  /** The JSON object the segment is written from. */
  readonly obj: Readonly<Record<string, unknown>>;
  /** 0-based position of this segment among the repeated ones (set IDs). */
  readonly index: number;
  /** HL7 trigger event being written, e.g. `A01`. */
  readonly trigger: string;
  /** `Meta.EventType` of the message. */
  readonly eventType: string;
}

/** What a reader-side constant check may look at. */
export interface ReadContext {
  /** 0-based position of this segment among the repeated ones. */
  readonly index: number;
  /** HL7 trigger event of the message. */
  readonly trigger: string;
  /** `Meta.EventType` the message maps to. */
  readonly eventType: string;
}

/** A rule that applies only to some segments (e.g. OBX-5 of type ED). */
export interface Condition {
  /** Whether the rule applies to the HL7 segment being read. */
  read(seg: SegmentView): boolean;
  /** Whether the rule applies to the JSON object being written. */
  write(ctx: WriteContext): boolean;
}

/**
 * One leaf ⇄ one JSON property. `j` is a dotted path relative to the segment's JSON object
 * (`"Demographics.FirstName"`), `""` for the array element itself (a list of strings), or
 * starts with `/` to be relative to the scope's object (PID-18 → `/Visit.AccountNumber`).
 */
export interface LeafRule {
  readonly kind: "leaf";
  readonly j: string;
  /** Address `F[.C[.S]]` (segment rules) or `C[.S]` (inside a repetition bucket). */
  readonly h: string;
  readonly t: ValueType;
  /** HL7 code ⇄ JSON value; codes not in the table pass through unchanged. */
  readonly codes?: CodeTable;
  readonly when?: Condition;
  /**
   * A second home of a JSON property mapped elsewhere (ORC-2 beside OBR-2): read only when
   * the primary left the property unset; written whenever the property is set (`true`),
   * never (`"read"`, for deprecated places that receivers should not get new values in), or
   * only into a message that had it (`"kept"`: the leaf is left in the extension when read,
   * and the writer puts the property's value there, so a newer home that not every sender
   * uses neither appears in messages that lacked it nor keeps a stale value after an edit).
   */
  readonly fallback?: FallbackMode;
}

/** How a second home of a property is written (see {@link LeafRule.fallback}). */
export type FallbackMode = boolean | "read" | "kept";

/** A value the writer derives (set IDs, EVN-1, ORC-1); it maps to no JSON property. */
export interface ConstRule {
  readonly kind: "const";
  readonly h: string;
  readonly value: (ctx: WriteContext) => string | undefined;
  /**
   * Whether a different value met when reading may be written back as it was (default yes).
   * ORC-1 says no unless the code still means the message's event type.
   */
  readonly accepts?: (raw: string, ctx: ReadContext) => boolean;
  readonly when?: Condition;
}

/** One class of repetitions of a field (home phone, e-mail addresses...). */
export interface Bucket {
  /** JSON path (relative to the segment's object) of the value or array. */
  readonly j: string;
  /** An array of every matching repetition, else the first match only. */
  readonly many?: boolean;
  /** Which repetitions belong here (default: all). */
  readonly match?: (rep: SegmentView) => boolean;
  /** Rules inside one repetition, `h` being `C[.S]`; `j: ""` makes the element a scalar. */
  readonly leaves: readonly LeafRule[];
  /** Components the writer fills to mark the class (`{"2": "NET"}`); read back if equal. */
  readonly fill?: Readonly<Record<string, string>>;
  /**
   * The value of a scalar bucket when its leaves are empty, built from other components (a
   * v2.5 phone number in XTN-5/6/7/8). Read only: those components stay in the extension, and
   * the writer leaves its own leaf out of a repetition whose kept components derive the value
   * it would write (so HL7 → JSON → HL7 gives the repetition back as it was).
   */
  readonly derive?: Derivation;
}

/** A bucket value built from components of the repetition (see {@link Bucket.derive}). */
export interface Derivation {
  /** The components (`C[.S]`) the value is built from. */
  readonly from: readonly string[];
  /** The value, or `undefined` when those components do not give one. */
  readonly value: (rep: SegmentView) => string | undefined;
}

/**
 * The repetitions of field `f` sorted into buckets. The writer emits the buckets in order, so
 * a message written from JSON lists home phone, mobile, then e-mail addresses.
 */
export interface RepsRule {
  readonly kind: "reps";
  readonly f: number;
  readonly buckets: readonly Bucket[];
}

/**
 * A reference range (OBX-7): `Text` is the leaf as written; `Low` and `High` are read from
 * `3.5-5.1`, `>10` or `<0.5`, and written as such when `Text` is absent.
 */
export interface RangeRule {
  readonly kind: "range";
  /** JSON path of the `{Low, High, Text}` object. */
  readonly j: string;
  readonly h: string;
  readonly when?: Condition;
}

/**
 * A structured numeric value (SN: comparator, number, separator, number in components 1-4 of
 * repetition 1 of field `f`) ⇄ one text: `>^500` is `>500`, `^10^-^20` is `10-20`, `^2^:^3` is
 * `2:3`. A value that is no SN text is read and written as component 1, as a leaf rule would.
 */
export interface StructuredRule {
  readonly kind: "structured";
  readonly j: string;
  readonly f: number;
  readonly when?: Condition;
}

/** Any rule of a segment. */
export type Rule = LeafRule | ConstRule | RepsRule | RangeRule | StructuredRule;

/** A segment and where its values live in JSON. */
export interface SegmentMap {
  readonly kind: "segment";
  readonly seg: string;
  /** Dotted path of its JSON object relative to the scope's object (`""` = the scope object). */
  readonly at: string;
  /** Every occurrence is one element of the array at `at` (else only the first is mapped). */
  readonly many?: boolean;
  /** Written even when no JSON property feeds it (MSH, PID, PV1 of an ADT). */
  readonly required?: boolean;
  readonly rules: readonly Rule[];
}

/** A repeating segment group (an order: ORC, OBR, NTE, and its results). */
export interface GroupMap {
  readonly kind: "group";
  /** JSON path of the group's array (or object when `many` is false), relative to the scope. */
  readonly j: string;
  readonly many: boolean;
  /** The segment that opens an instance; `lead` segments may come before it (ORC before OBR). */
  readonly anchor: string;
  readonly lead?: readonly string[];
  /** The instance's segments and nested groups, in writing order. */
  readonly items: readonly ScopeItem[];
}

/** One entry of a scope: a segment or a nested group. */
export type ScopeItem = SegmentMap | GroupMap;

/** A leaf rule. `t` defaults to `"string"`. */
export function leaf(
  j: string,
  h: string,
  options: { t?: ValueType; codes?: CodeTable; when?: Condition; fallback?: FallbackMode } = {},
): LeafRule {
  return { kind: "leaf", j, h, t: options.t ?? "string", ...withoutUndefined(options) };
}

/** A constant rule. */
export function constant(
  h: string,
  value: (ctx: WriteContext) => string | undefined,
  options: { accepts?: (raw: string, ctx: ReadContext) => boolean; when?: Condition } = {},
): ConstRule {
  return { kind: "const", h, value, ...withoutUndefined(options) };
}

/** The set ID of a repeated segment: its 1-based position. */
export function setId(h = "1"): ConstRule {
  return constant(h, (ctx) => String(ctx.index + 1));
}

/** A segment map. */
export function segment(
  seg: string,
  at: string,
  rules: readonly Rule[],
  options: { many?: boolean; required?: boolean } = {},
): SegmentMap {
  return { kind: "segment", seg, at, rules, ...withoutUndefined(options) };
}

/** A segment group. */
export function group(
  j: string,
  anchor: string,
  items: readonly ScopeItem[],
  options: { many?: boolean; lead?: readonly string[] } = {},
): GroupMap {
  return {
    kind: "group",
    j,
    anchor,
    items,
    many: options.many ?? true,
    ...(options.lead ? { lead: options.lead } : {}),
  };
}

/** Prefixes the `h` of leaf rules with a field number: `under(7, provider(...))`. */
export function under(field: number, rules: readonly LeafRule[]): LeafRule[] {
  return rules.map((r) => ({ ...r, h: `${field}.${r.h}` }));
}

/** Prefixes the `j` of leaf rules with an object path. */
export function within(path: string, rules: readonly LeafRule[]): LeafRule[] {
  return rules.map((r) => ({ ...r, j: r.j === "" ? path : `${path}.${r.j}` }));
}

/** Marks leaf rules as fallbacks (second homes of properties mapped elsewhere). */
export function asFallback(
  rules: readonly LeafRule[],
  mode: true | "read" | "kept" = true,
): LeafRule[] {
  return rules.map((r) => ({ ...r, fallback: mode }));
}

/** A segment map without the leaf rules of the given JSON properties. */
export function without(map: SegmentMap, js: readonly string[]): SegmentMap {
  return { ...map, rules: map.rules.filter((r) => r.kind !== "leaf" || !js.includes(r.j)) };
}

/** A segment map whose leaf rules for the given JSON properties are fallbacks. */
export function withFallbacks(
  map: SegmentMap,
  js: readonly string[],
  mode: true | "read" = true,
): SegmentMap {
  return {
    ...map,
    rules: map.rules.map((r) =>
      r.kind === "leaf" && js.includes(r.j) ? { ...r, fallback: mode } : r
    ),
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Parses `F[.C[.S]]` (or `C[.S]` with `inRep`) into a leaf address; memoised. */
export function parseAddress(h: string): LeafAddress {
  let a = addressCache.get(h);
  if (a === undefined) {
    const parts = h.split(".").map((p) => Number(p));
    if (parts.length < 1 || parts.length > 3 || parts.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new Error(`bad leaf address ${JSON.stringify(h)} in a mapping table`);
    }
    a = { field: parts[0] as number, rep: 1, comp: parts[1] ?? 1, sub: parts[2] ?? 1 };
    addressCache.set(h, a);
  }
  return a;
}

const addressCache = new Map<string, LeafAddress>();
