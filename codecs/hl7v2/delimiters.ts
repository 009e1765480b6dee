/**
 * HL7 v2 delimiters: read from MSH-1/MSH-2 (or FHS/BHS), validated, and rendered back.
 *
 * @module
 */

/** The delimiter set of one message. */
export interface Hl7Delimiters {
  /** Field separator (MSH-1), usually `|`. */
  readonly field: string;
  /** Component separator (MSH-2 first char), usually `^`. */
  readonly component: string;
  /** Repetition separator (MSH-2 second char), usually `~`. */
  readonly repetition: string;
  /** Escape character (MSH-2 third char), usually `\`. */
  readonly escape: string;
  /** Subcomponent separator (MSH-2 fourth char), usually `&`. */
  readonly subcomponent: string;
  /** v2.7 truncation character (optional fifth char of MSH-2), usually `#`. */
  readonly truncation?: string;
}

/** The recommended delimiters `|^~\&` (without a truncation character). */
export const DEFAULT_DELIMITERS: Hl7Delimiters = Object.freeze({
  field: "|",
  component: "^",
  repetition: "~",
  escape: "\\",
  subcomponent: "&",
});

/** Why a candidate delimiter set was rejected (maps onto parse error codes). */
export type DelimiterProblem =
  | { readonly code: "BAD_DELIMITERS"; readonly detail: string; readonly index: number }
  | { readonly code: "DUPLICATE_DELIMITER"; readonly detail: string; readonly index: number }
  | { readonly code: "NON_PRINTABLE_DELIMITER"; readonly detail: string; readonly index: number };

const NAMES = [
  "field separator",
  "component",
  "repetition",
  "escape",
  "subcomponent",
  "truncation",
];

function describe(ch: string): string {
  const c = ch.charCodeAt(0);
  return `U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Control characters (C0, DEL, C1) and the Unicode line/paragraph separators. */
function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
}

/** Letters, digits and whitespace would be ambiguous with data. */
function isIllegal(ch: string): boolean {
  return /[\p{L}\p{N}\s]/u.test(ch);
}

/**
 * Checks a field separator plus MSH-2 encoding characters (4, or 5 with the v2.7 truncation
 * character). Returns the delimiters, or the first problem found with the 0-based index of the
 * offending character (0 = field separator, 1.. = MSH-2 characters).
 */
export function checkDelimiters(field: string, encoding: string): DelimiterCheck {
  const key = field + encoding;
  let hit = checked.get(key);
  if (hit === undefined) {
    hit = check(field, encoding);
    // Bounded: delimiter sets come from input data.
    if (checked.size >= 256) checked.clear();
    checked.set(key, hit);
  }
  return hit;
}

/** Result of {@link checkDelimiters}. */
export type DelimiterCheck =
  | { readonly ok: true; readonly delimiters: Hl7Delimiters }
  | { readonly ok: false; readonly problem: DelimiterProblem };

/** Validation results by field separator + MSH-2, so that each set is checked once. */
const checked = new Map<string, DelimiterCheck>();

function check(field: string, encoding: string): DelimiterCheck {
  // Surrogate pairs would make a two-unit "character": treat as illegal by length below.
  const chars = [field, ...encoding.split("")];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    const c = ch.charCodeAt(0);
    if (isControl(c)) {
      return {
        ok: false,
        problem: {
          code: "NON_PRINTABLE_DELIMITER",
          detail: `${NAMES[i] ?? "extra"} delimiter is the control character ${describe(ch)}`,
          index: i,
        },
      };
    }
  }
  if (encoding.length < 4 || encoding.length > 5) {
    return {
      ok: false,
      problem: {
        code: "BAD_DELIMITERS",
        detail: `MSH-2 must hold 4 encoding characters (5 with the truncation character), found ${
          JSON.stringify(encoding)
        }`,
        index: Math.min(encoding.length, 5) + 1,
      },
    };
  }
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (isIllegal(ch) || (ch.charCodeAt(0) >= 0xd800 && ch.charCodeAt(0) <= 0xdfff)) {
      return {
        ok: false,
        problem: {
          code: "BAD_DELIMITERS",
          detail: `${NAMES[i]} delimiter ${JSON.stringify(ch)} is a letter, digit or space`,
          index: i,
        },
      };
    }
    const first = chars.indexOf(ch);
    if (first !== i) {
      return {
        ok: false,
        problem: {
          code: "DUPLICATE_DELIMITER",
          detail: `${NAMES[i]} delimiter ${JSON.stringify(ch)} is also the ${
            NAMES[first]
          } delimiter`,
          index: i,
        },
      };
    }
  }
  const [component, repetition, escape, subcomponent, truncation] = encoding.split("") as [
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  const base = { field, component, repetition, escape, subcomponent };
  return {
    ok: true,
    delimiters: Object.freeze(truncation === undefined ? base : { ...base, truncation }),
  };
}

/** Renders MSH-2 (the encoding characters) for a delimiter set. */
export function encodingCharacters(d: Hl7Delimiters): string {
  return d.component + d.repetition + d.escape + d.subcomponent + (d.truncation ?? "");
}
