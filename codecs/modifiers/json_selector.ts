/**
 * Selectors: paths into the data-model JSON that may fan out over arrays.
 *
 * ```
 * selector  = [ "$" [ "." ] ] step { step }
 * step      = name | "." name | "[" ( "*" | index | "?" field op literal ) "]"
 * name      = one or more characters other than . [ ] " ' = ! and white space
 * index     = 0-based decimal array index
 * field     = name { "." name }                     ; read in the array element
 * op        = "==" | "!="
 * literal   = "JSON string" | 'text' | number | true | false | null
 * ```
 *
 * Examples: `Patient.Demographics.Sex`, `Orders[*].Results[*].Code`,
 * `Patient.Identifiers[?IDType=="MR"].ID`, `Patient.Identifiers[0]`. A leading `$` says "from
 * the root"; where a path may also be relative (`get` in a schema), a path without `$` is read
 * from the object holding the modified value.
 *
 * @module
 */

/** A JSON scalar as a predicate compares it. */
export type JsonScalar = string | number | boolean | null;

/** One step of a selector. */
export type SelectorStep =
  | { readonly kind: "name"; readonly key: string }
  | { readonly kind: "index"; readonly index: number }
  | { readonly kind: "all" }
  | {
    readonly kind: "filter";
    readonly field: readonly string[];
    readonly op: "==" | "!=";
    readonly value: JsonScalar;
  };

/** A parsed selector. */
export interface Selector {
  /** As written. */
  readonly text: string;
  /** Whether it started with `$`. */
  readonly rooted: boolean;
  /** The steps, at least one. */
  readonly steps: readonly SelectorStep[];
  /** Whether it can match several values (`[*]` or a predicate). */
  readonly multi: boolean;
  /** Whether it holds `[*]` (a read then gives a list). */
  readonly hasWildcard: boolean;
}

/** A concrete location: object keys and array indexes from the root. */
export type JsonKeys = readonly (string | number)[];

/** One place a selector matched. */
export interface SelectorMatch {
  /** Where. */
  readonly keys: JsonKeys;
  /** The value there (undefined when absent, for writes). */
  readonly value: unknown;
}

/** Longest selector accepted. */
export const MAX_SELECTOR_LENGTH = 512;
const MAX_STEPS = 32;
const NAME_STOP = new Set([".", "[", "]", '"', "'", "=", "!", " ", "\t", "\r", "\n"]);

/** A selector that does not parse; `message` says where. */
export class SelectorError extends Error {
  /** An error about `selector` text. */
  constructor(message: string) {
    super(message);
    this.name = "SelectorError";
  }
}

class Reader {
  pos = 0;
  constructor(readonly text: string) {}
  fail(what: string): never {
    throw new SelectorError(`${what} at character ${this.pos + 1}`);
  }
  name(): string {
    const start = this.pos;
    while (this.pos < this.text.length && !NAME_STOP.has(this.text[this.pos] as string)) this.pos++;
    if (this.pos === start) this.fail("expected a name");
    return this.text.slice(start, this.pos);
  }
  literal(): JsonScalar {
    const t = this.text;
    const c = t[this.pos];
    if (c === '"') {
      let k = this.pos + 1;
      while (k < t.length && t[k] !== '"') k += t[k] === "\\" ? 2 : 1;
      if (k >= t.length) this.fail("unterminated string");
      try {
        const v = JSON.parse(t.slice(this.pos, k + 1)) as string;
        this.pos = k + 1;
        return v;
      } catch {
        return this.fail("bad string");
      }
    }
    if (c === "'") {
      const k = t.indexOf("'", this.pos + 1);
      if (k === -1) this.fail("unterminated string");
      const v = t.slice(this.pos + 1, k);
      this.pos = k + 1;
      return v;
    }
    const m = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(t.slice(this.pos));
    if (m === null) this.fail("expected a string, number, true, false or null");
    this.pos += (m[0] as string).length;
    return JSON.parse(m[0] as string) as JsonScalar;
  }
  bracket(): SelectorStep {
    this.pos++; // [
    const t = this.text;
    let step: SelectorStep;
    if (t[this.pos] === "*") {
      this.pos++;
      step = { kind: "all" };
    } else if (t[this.pos] === "?") {
      this.pos++;
      if (t[this.pos] === "(") this.fail('write predicates as [?Field=="x"], without parentheses');
      const field = [this.name()];
      while (t[this.pos] === ".") {
        this.pos++;
        field.push(this.name());
      }
      const op = t.slice(this.pos, this.pos + 2);
      if (op !== "==" && op !== "!=") this.fail('expected "==" or "!="');
      this.pos += 2;
      step = { kind: "filter", field, op, value: this.literal() };
    } else {
      const m = /^\d{1,6}/.exec(t.slice(this.pos));
      if (m === null) this.fail('expected "*", an index or "?" after "["');
      this.pos += (m[0] as string).length;
      step = { kind: "index", index: Number(m[0]) };
    }
    if (t[this.pos] !== "]") this.fail('expected "]"');
    this.pos++;
    return step;
  }
}

const cache = new Map<string, Selector>();

/**
 * Parses a selector (grammar in the module doc); results are cached.
 *
 * @throws {SelectorError} naming the character where it goes wrong.
 */
export function parseSelector(text: string): Selector {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  if (typeof text !== "string") throw new SelectorError("a selector must be a string");
  if (text.length === 0) throw new SelectorError("a selector cannot be empty");
  if (text.length > MAX_SELECTOR_LENGTH) {
    throw new SelectorError(`a selector is at most ${MAX_SELECTOR_LENGTH} characters`);
  }
  const r = new Reader(text);
  const steps: SelectorStep[] = [];
  const rooted = text[0] === "$";
  if (rooted) {
    r.pos = 1;
    if (text[1] === ".") r.pos = 2;
    else if (text.length > 1 && text[1] !== "[") r.fail('expected "." after "$"');
  }
  let first = true;
  while (r.pos < text.length) {
    const c = text[r.pos];
    if (c === "[") steps.push(r.bracket());
    else {
      if (!first || (rooted && text[r.pos - 1] !== ".")) {
        if (c !== ".") r.fail('expected "." or "["');
        r.pos++;
      }
      steps.push({ kind: "name", key: r.name() });
    }
    first = false;
    if (steps.length > MAX_STEPS) r.fail(`more than ${MAX_STEPS} steps`);
  }
  if (steps.length === 0) throw new SelectorError("a selector needs at least one step after $");
  const sel: Selector = Object.freeze({
    text,
    rooted,
    steps,
    multi: steps.some((s) => s.kind === "all" || s.kind === "filter"),
    hasWildcard: steps.some((s) => s.kind === "all"),
  });
  if (cache.size >= 4096) cache.clear();
  cache.set(text, sel);
  return sel;
}

/** Whether `v` is a plain object (not an array, not null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fieldOf(v: unknown, field: readonly string[]): unknown {
  for (const k of field) {
    if (!isPlainObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

/** Whether an array element passes a predicate step. */
function passes(el: unknown, step: SelectorStep & { kind: "filter" }): boolean {
  const v = fieldOf(el, step.field);
  const eq = v === step.value || (v === undefined && step.value === null);
  return step.op === "==" ? eq : !eq;
}

/**
 * Every place `sel` matches under `root`, in document order. With `forWrite`, name steps also
 * pass through absent objects (so a `put` can create `A.B.C`); `[*]`, predicates and indexes
 * match existing array elements only. Without it, only present values (not undefined) match.
 */
export function selectAll(root: unknown, sel: Selector, forWrite = false): SelectorMatch[] {
  if (!sel.multi) return selectOne(root, sel, forWrite);
  const out: SelectorMatch[] = [];
  const keys: (string | number)[] = [];
  const steps = sel.steps;
  const walk = (v: unknown, k: number): void => {
    if (k === steps.length) {
      if (forWrite || v !== undefined) out.push({ keys: keys.slice(), value: v });
      return;
    }
    const step = steps[k] as SelectorStep;
    if (step.kind === "name") {
      if (isPlainObject(v)) {
        keys.push(step.key);
        walk(Object.hasOwn(v, step.key) ? v[step.key] : undefined, k + 1);
        keys.pop();
      } else if (v === undefined && forWrite) {
        keys.push(step.key);
        walk(undefined, k + 1);
        keys.pop();
      }
      return;
    }
    if (!Array.isArray(v)) return;
    if (step.kind === "index") {
      if (step.index < v.length) {
        keys.push(step.index);
        walk(v[step.index], k + 1);
        keys.pop();
      }
      return;
    }
    for (let i = 0; i < v.length; i++) {
      if (step.kind === "filter" && !passes(v[i], step)) continue;
      keys.push(i);
      walk(v[i], k + 1);
      keys.pop();
    }
  };
  walk(root, 0);
  return out;
}

/** {@link selectAll} for a selector of names and indexes: at most one match, no closure. */
function selectOne(root: unknown, sel: Selector, forWrite: boolean): SelectorMatch[] {
  const keys: (string | number)[] = new Array(sel.steps.length);
  let v = root;
  let k = 0;
  for (const step of sel.steps) {
    if (step.kind === "name") {
      if (isPlainObject(v)) v = Object.hasOwn(v, step.key) ? v[step.key] : undefined;
      else if (!(v === undefined && forWrite)) return [];
      keys[k++] = step.key;
    } else if (step.kind === "index") {
      if (!Array.isArray(v) || step.index >= v.length) return [];
      v = v[step.index];
      keys[k++] = step.index;
    }
  }
  return forWrite || v !== undefined ? [{ keys, value: v }] : [];
}

/**
 * Reads a selector: the value for a single-valued selector (the first match for a predicate),
 * the list of present values when it holds `[*]`.
 */
export function readSelector(root: unknown, sel: Selector): unknown {
  if (!sel.multi) {
    let v = root;
    for (const step of sel.steps) {
      if (step.kind === "name") {
        if (!isPlainObject(v) || !Object.hasOwn(v, step.key)) return undefined;
        v = v[step.key];
      } else if (step.kind === "index") {
        if (!Array.isArray(v)) return undefined;
        v = v[step.index];
      }
    }
    return v;
  }
  const all = selectAll(root, sel);
  return sel.hasWildcard ? all.map((m) => m.value) : all[0]?.value;
}

/** The value at concrete keys, or undefined. */
export function valueAt(root: unknown, keys: JsonKeys): unknown {
  let v = root;
  for (const k of keys) {
    if (typeof k === "number") {
      if (!Array.isArray(v)) return undefined;
      v = v[k];
    } else {
      if (!isPlainObject(v) || !Object.hasOwn(v, k)) return undefined;
      v = v[k];
    }
  }
  return v;
}

/** Renders concrete keys as a path: `Patient.Identifiers[0].ID`. */
export function formatKeys(keys: JsonKeys): string {
  let s = "";
  for (const k of keys) {
    if (typeof k === "number") s += `[${k}]`;
    else s += s === "" ? k : `.${k}`;
  }
  return s;
}
