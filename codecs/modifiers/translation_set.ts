/**
 * Translation sets: named code tables (`localSex`: `1 → F`, `2 → M`) used by the `translate`
 * keyword of modifiers and the `translate` HL7 edit, with what to do for a code not in the table
 * (`onMissing`): `pass` it through, use the set's `default`, or `fail` the delivery.
 *
 * Sets come from config (`translationSets`) or from a CSV import; each import is a new
 * `version`, recorded in the log of every message it translated.
 *
 * @module
 */

import { EvalError, Problems } from "./problems.ts";

/** What a lookup does with a code the table lacks. */
export type OnMissing = "pass" | "default" | "fail";

/** The `onMissing` values, in documentation order. */
export const ON_MISSING: readonly OnMissing[] = ["pass", "default", "fail"];

/** A named code table. */
export interface TranslationSet {
  /** Its name, as `translate` refers to it. */
  readonly name: string;
  /** 0 for the config's entries, then 1, 2… for each CSV import. */
  readonly version: number;
  /** Code → replacement. */
  readonly entries: ReadonlyMap<string, string>;
  /** What a code not in `entries` becomes. */
  readonly onMissing: OnMissing;
  /** The replacement when `onMissing` is `default`. */
  readonly default?: string;
}

/** The sets in use, by name. */
export type TranslationSets = ReadonlyMap<string, TranslationSet>;

/** Most entries one set may hold. */
export const MAX_SET_ENTRIES = 100_000;
/** Longest code or replacement. */
export const MAX_CELL_LENGTH = 1024;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether `name` is a usable set name (letters, digits, `_ . -`, at most 64). */
export function isSetName(name: unknown): name is string {
  return typeof name === "string" && NAME.test(name);
}

/** A lookup's per-use options (a `translate` keyword may override the set's). */
export interface LookupOptions {
  /** Overrides the set's `onMissing`. */
  readonly onMissing?: OnMissing;
  /** Overrides the set's `default`. */
  readonly default?: string;
}

/**
 * Translates one code. A set that is declared but has no entries yet translates nothing (every
 * code is missing).
 *
 * @throws {EvalError} at `at` when the code is missing and `onMissing` is `fail`, or the set
 * is not loaded at all.
 */
export function lookup(
  sets: TranslationSets,
  name: string,
  code: string,
  at: string,
  options: LookupOptions = {},
  used?: Map<string, number>,
): string {
  const set = sets.get(name);
  if (set === undefined) throw new EvalError(at, `translation set ${name} is not loaded`);
  used?.set(name, set.version);
  const hit = set.entries.get(code);
  if (hit !== undefined) return hit;
  const mode = options.onMissing ?? set.onMissing;
  if (mode === "pass") return code;
  if (mode === "default") {
    const d = options.default ?? set.default;
    if (d !== undefined) return d;
    throw new EvalError(at, `translation set ${name} has no default for a missing code`);
  }
  throw new EvalError(at, `no entry in translation set ${name} (onMissing: fail)`);
}

/**
 * Validates the config's `translationSets` object (`{name: {entries, onMissing, default}}`)
 * and builds version-0 sets. Problem paths start with `.name`.
 */
export function compileTranslationSets(
  raw: unknown,
): { ok: true; sets: Map<string, TranslationSet> } | {
  ok: false;
  problems: Problems["list"];
} {
  const problems = new Problems();
  const sets = new Map<string, TranslationSet>();
  if (raw === undefined) return { ok: true, sets };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.add("", "must be an object of named sets");
    return { ok: false, problems: problems.list };
  }
  for (const [name, def] of Object.entries(raw)) {
    const p = `.${name}`;
    if (!isSetName(name)) problems.add(p, "a set name is 1–64 letters, digits, _ . -");
    const set = compileSetOptions(def, p, problems);
    if (set === undefined) continue;
    const entries = new Map<string, string>();
    const rawEntries = (def as Record<string, unknown>).entries ?? {};
    if (typeof rawEntries !== "object" || rawEntries === null || Array.isArray(rawEntries)) {
      problems.add(`${p}.entries`, 'must be an object of code → replacement, e.g. {"1": "F"}');
    } else {
      for (const [code, to] of Object.entries(rawEntries)) {
        if (typeof to !== "string") problems.add(`${p}.entries.${code}`, "must be a string");
        else if (to.length > MAX_CELL_LENGTH || code.length > MAX_CELL_LENGTH) {
          problems.add(`${p}.entries.${code}`, `longer than ${MAX_CELL_LENGTH} characters`);
        } else entries.set(code, to);
      }
      if (entries.size > MAX_SET_ENTRIES) {
        problems.add(`${p}.entries`, `more than ${MAX_SET_ENTRIES} entries`);
      }
    }
    sets.set(name, { name, version: 0, entries, ...set });
  }
  return problems.ok ? { ok: true, sets } : { ok: false, problems: problems.list };
}

/** Validates `onMissing` and `default` of a set definition (unknown keys are refused). */
function compileSetOptions(
  def: unknown,
  p: string,
  problems: Problems,
): { onMissing: OnMissing; default?: string } | undefined {
  if (typeof def !== "object" || def === null || Array.isArray(def)) {
    problems.add(p, "must be an object {entries, onMissing, default}");
    return undefined;
  }
  const d = def as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!["entries", "onMissing", "default", "comment"].includes(k)) {
      problems.add(`${p}.${k}`, "unknown (known: entries, onMissing, default, comment)");
    }
  }
  const onMissing = d.onMissing ?? "pass";
  if (!ON_MISSING.includes(onMissing as OnMissing)) {
    problems.add(`${p}.onMissing`, `unknown (known: ${ON_MISSING.join(", ")})`);
    return undefined;
  }
  if (d.default !== undefined && typeof d.default !== "string") {
    problems.add(`${p}.default`, "must be a string");
    return undefined;
  }
  if (onMissing === "default" && d.default === undefined) {
    problems.add(`${p}.default`, 'required when onMissing is "default"');
  }
  return {
    onMissing: onMissing as OnMissing,
    ...(d.default !== undefined ? { default: d.default as string } : {}),
  };
}

/** The result of reading a CSV table. */
export type CsvResult =
  | { readonly ok: true; readonly entries: Map<string, string> }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Splits CSV text into rows of cells (RFC 4180: quotes, doubled quotes, CRLF or LF). */
function csvRows(text: string, problems: string[]): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let i = 0, line = 1;
  let quoted = false;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        if (c === "\n") line++;
        cell += c;
      }
      i++;
      continue;
    }
    if (c === '"' && cell === "") quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" || c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      if (c === "\r" && text[i + 1] === "\n") i++;
      line++;
    } else cell += c;
    i++;
    if (rows.length > MAX_SET_ENTRIES + 1) {
      problems.push(`more than ${MAX_SET_ENTRIES} rows`);
      return rows;
    }
  }
  if (quoted) problems.push(`line ${line}: a quoted cell is not closed`);
  else if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/**
 * Reads a two-column CSV (`code,replacement`; a first row `from,to` is a header and skipped;
 * blank lines are ignored). Each problem names its line; a duplicate code is a problem.
 */
export function parseTranslationCsv(text: string): CsvResult {
  const problems: string[] = [];
  const rows = csvRows(text.startsWith("\uFEFF") ? text.slice(1) : text, problems);
  const entries = new Map<string, string>();
  rows.forEach((row, k) => {
    const line = k + 1;
    if (row.length === 1 && row[0] === "") return;
    if (
      k === 0 && row.length === 2 && row[0]?.trim().toLowerCase() === "from" &&
      row[1]?.trim().toLowerCase() === "to"
    ) return;
    if (row.length !== 2) {
      problems.push(`line ${line}: expected 2 cells (code,replacement), found ${row.length}`);
      return;
    }
    const [from, to] = row as [string, string];
    if (from === "") problems.push(`line ${line}: the code is empty`);
    else if (from.length > MAX_CELL_LENGTH || to.length > MAX_CELL_LENGTH) {
      problems.push(`line ${line}: a cell is longer than ${MAX_CELL_LENGTH} characters`);
    } else if (entries.has(from)) problems.push(`line ${line}: code ${from} appears twice`);
    else entries.set(from, to);
  });
  if (problems.length > 0) return { ok: false, problems: problems.slice(0, 20) };
  return { ok: true, entries };
}
