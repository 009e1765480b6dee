/**
 * Config modifiers on the data-model JSON: a list of `{flavor, selector, schema}` applied in
 * order. `put` writes the schema's result at every place the selector matches (creating missing
 * objects along plain names); `delete` removes every match (array elements are spliced out). An
 * optional `if` (a condition read from the root) skips the whole modifier when it does not hold.
 *
 * Applying never changes the input: containers are copied on their first write (copy on write),
 * so a list of a few edits on a large payload costs a few small copies. Each run reports the
 * paths it changed, never values, for the log.
 *
 * @module
 */

import { compileCondition, type Condition, type ConditionEnv } from "./condition.ts";
import {
  formatKeys,
  isPlainObject,
  type JsonKeys,
  parseSelector,
  selectAll,
  type Selector,
  SelectorError,
  valueAt,
} from "./json_selector.ts";
import { at as join, EvalError, ModifierFailure, type Problem, Problems } from "./problems.ts";
import {
  compileGetPath,
  compileSchemaAt,
  defineKey,
  type EvalContext,
  readGet,
  type SchemaEnv,
  type SchemaFn,
} from "./schema.ts";
import type { TranslationSets } from "./translation_set.ts";

/** `put` writes, `delete` removes. */
export type Flavor = "put" | "delete";

/** One compiled modifier. */
export interface CompiledModifier {
  /** Position in its list. */
  readonly index: number;
  /** Its `name`, for logs. */
  readonly name?: string;
  /** What it does. */
  readonly flavor: Flavor;
  /** Where. */
  readonly selector: Selector;
  /** The value written (put). */
  readonly schema?: SchemaFn;
  /** Applies only when this holds. */
  readonly when?: Condition<EvalContext>;
}

/** A compiled, validated modifier list. */
export interface ModifierList {
  /** The modifiers in order. */
  readonly modifiers: readonly CompiledModifier[];
  /** Translation sets the list names (to load before applying). */
  readonly setNames: ReadonlySet<string>;
}

/** What one modifier did to one message. */
export interface ModifierRun {
  /** Position in its list. */
  readonly index: number;
  /** Its name, when it has one. */
  readonly name?: string;
  /** `put` or `delete`. */
  readonly flavor: Flavor;
  /** The selector as written. */
  readonly selector: string;
  /** Places it matched. */
  readonly matched: number;
  /** Paths whose value changed (`Patient.Identifiers[0].ID`), in document order. */
  readonly changed: readonly string[];
  /** True when its `if` did not hold. */
  readonly skipped?: boolean;
}

/** The outcome of applying a list. */
export type ModifierResult =
  | {
    readonly ok: true;
    /** The modified payload (the input itself when nothing changed). */
    readonly value: unknown;
    /** One entry per modifier. */
    readonly runs: readonly ModifierRun[];
    /** Translation sets used, with the version of each. */
    readonly translationSets: readonly { name: string; version: number }[];
  }
  | {
    readonly ok: false;
    /** Which modifier failed, where and why (no values). */
    readonly failure: ModifierFailure;
    /** What ran before it. */
    readonly runs: readonly ModifierRun[];
  };

/** Options of {@link applyModifiers}. */
export interface ApplyOptions {
  /** Translation sets by name. */
  readonly translationSets?: TranslationSets;
  /** Named inputs for `use` (`environment`, `destination`…). */
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/** The keys a modifier may have. */
const MODIFIER_KEYS = ["flavor", "selector", "schema", "name", "if", "comment"];
/** Most modifiers in one list. */
export const MAX_MODIFIERS = 200;

function collectSets(raw: unknown, out: Set<string>, depth = 0): void {
  if (depth > 64 || typeof raw !== "object" || raw === null) return;
  if (Array.isArray(raw)) {
    for (const x of raw) collectSets(x, out, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(raw)) {
    if (k === "translate") {
      if (typeof v === "string") out.add(v);
      else if (isPlainObject(v) && typeof v.set === "string") out.add(v.set);
    } else if (k !== "constant" && k !== "default") collectSets(v, out, depth + 1);
  }
}

/** The condition environment of a modifier's own `if`: paths read from the root. */
function rootCondEnv(): ConditionEnv<EvalContext> {
  return {
    compileGet(raw, at, problems) {
      const g = compileGetPath(raw, at, problems);
      return g === undefined ? undefined : (ctx) => readGet(g.sel, ctx);
    },
    needOperand: "a modifier's if needs get (a path)",
  };
}

/**
 * Validates and compiles a modifier list. Problem paths are relative to the list
 * (`[2].schema.if.operator`), ready for the caller to prefix (`subscriptions[0].modifiers`).
 */
export function compileModifiers(
  raw: unknown,
  env: SchemaEnv = {},
): { ok: true; list: ModifierList } | { ok: false; problems: Problem[] } {
  const problems = new Problems();
  if (!Array.isArray(raw)) {
    problems.add("", "must be a list of modifiers");
    return { ok: false, problems: problems.list };
  }
  if (raw.length > MAX_MODIFIERS) problems.add("", `more than ${MAX_MODIFIERS} modifiers`);
  const modifiers: CompiledModifier[] = [];
  raw.forEach((m, index) => {
    const at = `[${index}]`;
    if (!isPlainObject(m)) {
      problems.add(at, "must be an object {flavor, selector, schema}");
      return;
    }
    for (const k of Object.keys(m)) {
      if (!MODIFIER_KEYS.includes(k)) {
        problems.add(join(at, k), `unknown (known: ${MODIFIER_KEYS.join(", ")})`);
      }
    }
    const flavor = m.flavor;
    if (flavor !== "put" && flavor !== "delete") {
      problems.add(
        join(at, "flavor"),
        flavor === undefined ? "missing (put or delete)" : "unknown (known: put, delete)",
      );
    }
    let selector: Selector | undefined;
    if (typeof m.selector !== "string") {
      problems.add(join(at, "selector"), 'missing (a path like "Patient.Demographics.Sex")');
    } else {
      try {
        selector = parseSelector(m.selector);
      } catch (e) {
        if (!(e instanceof SelectorError)) throw e;
        problems.add(join(at, "selector"), e.message);
      }
    }
    if (m.name !== undefined && (typeof m.name !== "string" || m.name.length > 128)) {
      problems.add(join(at, "name"), "must be a string of at most 128 characters");
    }
    if (m.comment !== undefined && typeof m.comment !== "string") {
      problems.add(join(at, "comment"), "must be a string");
    }
    let schema: SchemaFn | undefined;
    if (flavor === "put") {
      if (m.schema === undefined) problems.add(join(at, "schema"), "missing (put needs a schema)");
      else schema = compileSchemaAt(m.schema, join(at, "schema"), problems, env);
    } else if (flavor === "delete" && m.schema !== undefined) {
      problems.add(join(at, "schema"), "delete takes no schema");
    }
    const when = m.if === undefined
      ? undefined
      : compileCondition(m.if, join(at, "if"), problems, rootCondEnv());
    if (selector === undefined || (flavor !== "put" && flavor !== "delete")) return;
    modifiers.push({
      index,
      flavor,
      selector,
      ...(typeof m.name === "string" ? { name: m.name } : {}),
      ...(schema !== undefined ? { schema } : {}),
      ...(when !== undefined ? { when } : {}),
    });
  });
  if (!problems.ok) return { ok: false, problems: problems.list };
  const setNames = new Set<string>();
  collectSets(raw, setNames);
  return { ok: true, list: { modifiers, setNames } };
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === "object" && v !== null;
}

/** Strict JSON equality (no leniency: a change from `1` to `"1"` is a change). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]));
  }
  const ao = a as Record<string, unknown>, bo = b as Record<string, unknown>;
  const ka = Object.keys(ao);
  if (ka.length !== Object.keys(bo).length) return false;
  return ka.every((k) => Object.hasOwn(bo, k) && sameJson(ao[k], bo[k]));
}

/** A deep copy of a JSON value (what a put writes must not alias another part). */
function copyJson(v: unknown): unknown {
  if (!isContainer(v)) return v;
  if (Array.isArray(v)) return v.map(copyJson);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) defineKey(out, k, copyJson(x));
  return out;
}

/** The payload being modified: containers are copied on their first write. */
class CopyOnWrite {
  // A Set, not a WeakSet: it lives for one application and is several times faster.
  readonly #owned = new Set<object>();
  root: unknown;

  constructor(root: unknown) {
    this.root = root;
  }

  #own<T extends object>(v: T): T {
    if (this.#owned.has(v)) return v;
    const copy = (Array.isArray(v) ? v.slice() : { ...v }) as T;
    this.#owned.add(copy);
    return copy;
  }

  #fresh(nextKey: string | number): Record<string, unknown> | unknown[] {
    const c = typeof nextKey === "number" ? [] : {};
    this.#owned.add(c);
    return c;
  }

  /** The container holding `keys`' last step, made writable; undefined if absent (no create). */
  #parent(keys: JsonKeys, create: boolean): Record<string, unknown> | unknown[] | undefined {
    if (!isContainer(this.root)) {
      if (!create) return undefined;
      this.root = this.#fresh(keys[0] as string | number);
    } else this.root = this.#own(this.root);
    let c = this.root as Record<string, unknown> | unknown[];
    for (let i = 0; i < keys.length - 1; i++) {
      const k = keys[i] as string | number;
      const rec = c as Record<string | number, unknown>;
      const has = Array.isArray(c) ? typeof k === "number" && k < c.length : Object.hasOwn(c, k);
      let next = has ? rec[k] : undefined;
      if (isContainer(next)) next = this.#own(next);
      else if (create) next = this.#fresh(keys[i + 1] as string | number);
      else return undefined;
      if (typeof k === "string") defineKey(rec as Record<string, unknown>, k, next);
      else rec[k] = next;
      c = next as Record<string, unknown> | unknown[];
    }
    return c;
  }

  set(keys: JsonKeys, value: unknown): void {
    const c = this.#parent(keys, true);
    const k = keys[keys.length - 1] as string | number;
    if (c === undefined) return;
    if (Array.isArray(c)) c[k as number] = value;
    else defineKey(c, k as string, value);
  }

  delete(keys: JsonKeys): void {
    const c = this.#parent(keys, false);
    const k = keys[keys.length - 1] as string | number;
    if (c === undefined) return;
    if (Array.isArray(c)) c.splice(k as number, 1);
    else delete c[k as string];
  }
}

/**
 * Applies a compiled list to a payload (left unchanged). A failing modifier stops the list: the
 * result names it, the schema keyword and the payload path, never a value.
 */
export function applyModifiers(
  list: ModifierList,
  payload: unknown,
  options: ApplyOptions = {},
): ModifierResult {
  const doc = new CopyOnWrite(payload);
  const used = new Map<string, number>();
  const sets = options.translationSets ?? new Map();
  const inputs = options.inputs ?? {};
  const runs: ModifierRun[] = [];
  for (const m of list.modifiers) {
    let target = "";
    try {
      if (m.when !== undefined) {
        const ctx: EvalContext = { root: doc.root, here: doc.root, inputs, sets, used };
        if (!m.when(ctx)) {
          runs.push(run(m, 0, [], true));
          continue;
        }
      }
      const forWrite = m.flavor === "put";
      const matches = selectAll(doc.root, m.selector, forWrite);
      const changed: string[] = [];
      // Last first: removing an array element must not move the matches still to do.
      for (let k = matches.length - 1; k >= 0; k--) {
        const { keys } = matches[k] as (typeof matches)[number];
        target = formatKeys(keys);
        if (m.flavor === "delete") {
          doc.delete(keys);
          changed.push(target);
          continue;
        }
        const here = keys.length === 1 ? doc.root : valueAt(doc.root, keys.slice(0, -1));
        const current = valueAt(here, keys.slice(-1));
        const ctx: EvalContext = { root: doc.root, here, inputs, sets, used };
        const out = (m.schema as SchemaFn)(current, ctx);
        if (out === undefined) {
          if (current === undefined) continue;
          doc.delete(keys);
        } else {
          if (sameJson(out, current)) continue;
          doc.set(keys, copyJson(out));
        }
        changed.push(target);
      }
      runs.push(run(m, matches.length, changed.reverse()));
    } catch (e) {
      // Anything else (a payload nested too deep for the stack…) fails the message, not the caller.
      const at = e instanceof EvalError ? e.at : "selector";
      const reason = e instanceof EvalError ? e.message : `cannot apply: ${(e as Error).message}`;
      return { ok: false, failure: new ModifierFailure(m.index, m.name, at, target, reason), runs };
    }
  }
  return {
    ok: true,
    value: doc.root,
    runs,
    translationSets: [...used].map(([name, version]) => ({ name, version })),
  };
}

function run(
  m: CompiledModifier,
  matched: number,
  changed: string[],
  skipped = false,
): ModifierRun {
  return {
    index: m.index,
    ...(m.name !== undefined ? { name: m.name } : {}),
    flavor: m.flavor,
    selector: m.selector.text,
    matched,
    changed,
    ...(skipped ? { skipped } : {}),
  };
}

/** The paths of all changes a run list reports, in order, without repeats. */
export function changedPaths(runs: readonly ModifierRun[]): string[] {
  return [...new Set(runs.flatMap((r) => r.changed))];
}
