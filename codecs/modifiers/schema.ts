/**
 * The schema of a `put` modifier: keywords that compute the value written at each place the
 * selector matches. They apply in a fixed order, each one taking the value the previous one
 * left (at first, the value currently at the target):
 *
 * `omit` → `constant` → `use` → `get` → `properties` → `if` (`then`/`else`) → `concat` →
 * `switch` → `pipe` → `default` → `translate`. `comment` is allowed anywhere and ignored.
 *
 * - `omit`: `true` (or a condition that holds) removes the target; nothing after it runs.
 * - `constant`: a JSON value.
 * - `use`: a named input: `value` (the value so far), or one the engine provides
 *   (`environment`, `destination`…).
 * - `get`: a path (`"$.Patient.Demographics.Sex"` from the root, `"ID"` relative to the object
 *   holding the target), or `{"path": "…", "required": true}` to fail when it is absent.
 * - `properties`: `{key: schema}` builds an object; each sub-schema starts from the current
 *   value's property of that name; an undefined result leaves the key out.
 * - `if`: a condition (see `condition.ts`); `then` / `else` schemas (absent: unchanged).
 * - `concat`: a list of schemas (or `{"parts": […], "separator": " "}`): texts joined, skipping
 *   empty ones; when a part is a list the result is a list (lists spread, other values appended).
 * - `switch`: `{"cases": [{"when": condition, "then": schema}], "otherwise": schema}`.
 * - `pipe`: a list of schemas, each taking the previous one's result.
 * - `default`: a JSON value used when the value is absent, `null` or `""`.
 * - `translate`: a translation set name, or `{"set": "…", "onMissing": "…", "default": "…"}`;
 *   a list of codes is translated element by element; absent and `null` stay as they are.
 *
 * @module
 */

import { compileCondition, type Condition, type ConditionEnv } from "./condition.ts";
import {
  isPlainObject,
  parseSelector,
  readSelector,
  type Selector,
  SelectorError,
} from "./json_selector.ts";
import { at as join, EvalError, Problems } from "./problems.ts";
import {
  isSetName,
  lookup,
  ON_MISSING,
  type OnMissing,
  type TranslationSets,
} from "./translation_set.ts";

/** The schema keywords in the order they apply. */
export const SCHEMA_KEYWORDS = [
  "omit",
  "constant",
  "use",
  "get",
  "properties",
  "if",
  "concat",
  "switch",
  "pipe",
  "default",
  "translate",
  "comment",
] as const;

/** Keywords that only accompany another (`then`/`else` with `if`). */
const COMPANIONS = ["then", "else"];

/** What a schema evaluation reads besides its input value. */
export interface EvalContext {
  /** The payload as modified so far. */
  readonly root: unknown;
  /** The object (or array) holding the target: relative `get` paths start here. */
  readonly here: unknown;
  /** Named inputs for `use`. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Translation sets by name. */
  readonly sets: TranslationSets;
  /** Sets used so far, with their versions (for the log). */
  readonly used: Map<string, number>;
}

/** A compiled schema: input value → output value (undefined = absent). */
export type SchemaFn = (v: unknown, ctx: EvalContext) => unknown;

/** A condition's context inside a schema. */
export interface SchemaCondContext {
  /** The value so far. */
  readonly v: unknown;
  /** The evaluation context. */
  readonly ctx: EvalContext;
}

/** What the compiler checks references against. */
export interface SchemaEnv {
  /** Declared translation set names; undefined: not checked. */
  readonly translationSets?: ReadonlySet<string>;
  /** Input names `use` may name besides `value`; undefined: not checked. */
  readonly inputs?: ReadonlySet<string>;
}

const OMIT = Symbol("omit");
const MAX_DEPTH = 24;

/** Compiles a `get` path; problems at `at`. */
export function compileGetPath(
  raw: unknown,
  at: string,
  problems: Problems,
): { sel: Selector; required: boolean } | undefined {
  let path = raw, required = false;
  if (isPlainObject(raw)) {
    for (const k of Object.keys(raw)) {
      if (!["path", "required", "comment"].includes(k)) {
        problems.add(join(at, k), "unknown (known: path, required, comment)");
      }
    }
    path = raw.path;
    if (raw.required !== undefined && typeof raw.required !== "boolean") {
      problems.add(join(at, "required"), "must be true or false");
    }
    required = raw.required === true;
    at = join(at, "path");
  }
  if (typeof path !== "string") {
    problems.add(at, 'must be a path like "$.Patient.Demographics.Sex"');
    return undefined;
  }
  try {
    return { sel: parseSelector(path), required };
  } catch (e) {
    if (!(e instanceof SelectorError)) throw e;
    problems.add(at, `bad path: ${e.message}`);
    return undefined;
  }
}

/** Reads a compiled get path in a context. */
export function readGet(sel: Selector, ctx: EvalContext): unknown {
  return readSelector(sel.rooted ? ctx.root : ctx.here, sel);
}

function compileUseName(
  raw: unknown,
  at: string,
  problems: Problems,
  env: SchemaEnv,
): string | undefined {
  if (typeof raw !== "string" || raw === "") {
    problems.add(at, "must be the name of an input");
    return undefined;
  }
  if (raw !== "value" && env.inputs !== undefined && !env.inputs.has(raw)) {
    problems.add(at, `unknown input (known: ${["value", ...env.inputs].join(", ")})`);
    return undefined;
  }
  return raw;
}

function readUse(name: string, v: unknown, ctx: EvalContext): unknown {
  return name === "value" ? v : ctx.inputs[name];
}

/** The condition environment inside a schema: operands from `get`, `use` or the value so far. */
function schemaCondEnv(env: SchemaEnv): ConditionEnv<SchemaCondContext> {
  return {
    compileGet(raw, at, problems) {
      const g = compileGetPath(raw, at, problems);
      if (g === undefined) return undefined;
      return ({ ctx }) => readGet(g.sel, ctx);
    },
    compileUse(raw, at, problems) {
      const name = compileUseName(raw, at, problems, env);
      return name === undefined ? undefined : ({ v, ctx }) => readUse(name, v, ctx);
    },
    current: ({ v }) => v,
  };
}

/** Compiles a condition for use in a schema. */
export function compileSchemaCondition(
  raw: unknown,
  at: string,
  problems: Problems,
  env: SchemaEnv,
): Condition<SchemaCondContext> {
  return compileCondition(raw, at, problems, schemaCondEnv(env));
}

function isJson(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => isJson(x, depth + 1));
  if (isPlainObject(v)) return Object.values(v).every((x) => isJson(x, depth + 1));
  return false;
}

function compileTranslate(
  raw: unknown,
  at: string,
  problems: Problems,
  env: SchemaEnv,
): SchemaFn | undefined {
  let name = raw;
  let options: { onMissing?: OnMissing; default?: string } = {};
  if (isPlainObject(raw)) {
    for (const k of Object.keys(raw)) {
      if (!["set", "onMissing", "default", "comment"].includes(k)) {
        problems.add(join(at, k), "unknown (known: set, onMissing, default, comment)");
      }
    }
    name = raw.set;
    if (raw.onMissing !== undefined && !ON_MISSING.includes(raw.onMissing as OnMissing)) {
      problems.add(join(at, "onMissing"), `unknown (known: ${ON_MISSING.join(", ")})`);
    }
    if (raw.default !== undefined && typeof raw.default !== "string") {
      problems.add(join(at, "default"), "must be a string");
    }
    options = {
      ...(raw.onMissing !== undefined ? { onMissing: raw.onMissing as OnMissing } : {}),
      ...(typeof raw.default === "string" ? { default: raw.default } : {}),
    };
    if (!isSetName(name)) {
      problems.add(join(at, "set"), "must name a translation set");
      return undefined;
    }
  } else if (!isSetName(name)) {
    problems.add(at, "must name a translation set (or be {set, onMissing, default})");
    return undefined;
  }
  if (env.translationSets !== undefined && !env.translationSets.has(name)) {
    problems.add(
      isPlainObject(raw) ? join(at, "set") : at,
      `unknown translation set (declared: ${[...env.translationSets].join(", ") || "none"})`,
    );
    return undefined;
  }
  const setName = name;
  const rel = runtimeAt(at);
  const one = (x: unknown, ctx: EvalContext): unknown => {
    if (x === undefined || x === null) return x;
    if (typeof x === "object") {
      throw new EvalError(
        rel,
        `translate needs a code, found ${Array.isArray(x) ? "a list" : "an object"}`,
      );
    }
    return lookup(ctx.sets, setName, String(x), rel, options, ctx.used);
  };
  return (v, ctx) => Array.isArray(v) ? v.map((x) => one(x, ctx)) : one(v, ctx);
}

/** The definition path as a failure reports it: without the list index (`schema.get`). */
function runtimeAt(at: string): string {
  return at.replace(/^\[\d+\]\./, "");
}

function compileSchemaList(
  raw: unknown,
  at: string,
  problems: Problems,
  env: SchemaEnv,
  depth: number,
  what: string,
): SchemaFn[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.add(at, `${what} needs a non-empty list of schemas`);
    return undefined;
  }
  return raw.map((s, i) => compileSchemaAt(s, join(at, i), problems, env, depth + 1));
}

function compileConcat(
  raw: unknown,
  at: string,
  problems: Problems,
  env: SchemaEnv,
  depth: number,
): SchemaFn | undefined {
  let parts = raw, sep = "", partsAt = at;
  if (isPlainObject(raw)) {
    for (const k of Object.keys(raw)) {
      if (!["parts", "separator", "comment"].includes(k)) {
        problems.add(join(at, k), "unknown (known: parts, separator, comment)");
      }
    }
    if (raw.separator !== undefined && typeof raw.separator !== "string") {
      problems.add(join(at, "separator"), "must be a string");
    }
    sep = typeof raw.separator === "string" ? raw.separator : "";
    parts = raw.parts;
    partsAt = join(at, "parts");
  }
  const fns = compileSchemaList(parts, partsAt, problems, env, depth, "concat");
  if (fns === undefined) return undefined;
  return (v, ctx) => {
    const values = fns.map((f) => f(v, ctx));
    if (values.some(Array.isArray)) {
      const out: unknown[] = [];
      for (const x of values) {
        if (Array.isArray(x)) out.push(...x);
        else if (x !== undefined && x !== null) out.push(x);
      }
      return out;
    }
    const texts: string[] = [];
    for (const x of values) {
      if (x === undefined || x === null || x === "") continue;
      texts.push(typeof x === "object" ? JSON.stringify(x) : String(x));
    }
    return texts.join(sep);
  };
}

function compileSwitch(
  raw: unknown,
  at: string,
  problems: Problems,
  env: SchemaEnv,
  depth: number,
): SchemaFn | undefined {
  if (!isPlainObject(raw)) {
    problems.add(at, 'must be {"cases": [{"when": …, "then": …}], "otherwise": …}');
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (!["cases", "otherwise", "comment"].includes(k)) {
      problems.add(join(at, k), "unknown (known: cases, otherwise, comment)");
    }
  }
  if (!Array.isArray(raw.cases) || raw.cases.length === 0) {
    problems.add(join(at, "cases"), "needs a non-empty list of {when, then}");
    return undefined;
  }
  const cases = raw.cases.map((c, i) => {
    const cat = join(join(at, "cases"), i);
    if (!isPlainObject(c)) {
      problems.add(cat, 'must be {"when": condition, "then": schema}');
      return undefined;
    }
    for (const k of Object.keys(c)) {
      if (!["when", "then", "comment"].includes(k)) {
        problems.add(join(cat, k), "unknown (known: when, then, comment)");
      }
    }
    if (c.then === undefined) problems.add(join(cat, "then"), "missing");
    return {
      when: compileSchemaCondition(c.when, join(cat, "when"), problems, env),
      then: compileSchemaAt(c.then ?? {}, join(cat, "then"), problems, env, depth + 1),
    };
  });
  const otherwise = raw.otherwise === undefined
    ? undefined
    : compileSchemaAt(raw.otherwise, join(at, "otherwise"), problems, env, depth + 1);
  return (v, ctx) => {
    for (const c of cases) {
      if (c !== undefined && c.when({ v, ctx })) return c.then(v, ctx);
    }
    return otherwise === undefined ? v : otherwise(v, ctx);
  };
}

/**
 * Compiles a schema object. `at` is where problems are reported (`[0].schema`); failures at run
 * time name the same place without the list index (`schema.translate`).
 */
export function compileSchemaAt(
  raw: unknown,
  at: string,
  problems: Problems,
  env: SchemaEnv,
  depth = 0,
): SchemaFn {
  const identity: SchemaFn = (v) => v;
  if (!isPlainObject(raw)) {
    problems.add(at, `must be an object of keywords (${SCHEMA_KEYWORDS.join(", ")})`);
    return identity;
  }
  if (depth > MAX_DEPTH) {
    problems.add(at, `schemas nest deeper than ${MAX_DEPTH}`);
    return identity;
  }
  for (const k of Object.keys(raw)) {
    if (!(SCHEMA_KEYWORDS as readonly string[]).includes(k) && !COMPANIONS.includes(k)) {
      problems.add(
        join(at, k),
        `unknown keyword (known: ${SCHEMA_KEYWORDS.join(", ")}, then, else)`,
      );
    }
  }
  const steps: ((v: unknown, ctx: EvalContext) => unknown)[] = [];

  if (raw.omit !== undefined) {
    if (raw.omit === true) steps.push(() => OMIT);
    else if (raw.omit !== false) {
      const cond = compileSchemaCondition(raw.omit, join(at, "omit"), problems, env);
      steps.push((v, ctx) => cond({ v, ctx }) ? OMIT : v);
    }
  }
  if ("constant" in raw) {
    const c = raw.constant;
    if (!isJson(c)) problems.add(join(at, "constant"), "must be a JSON value");
    steps.push(() => c);
  }
  if (raw.use !== undefined) {
    const name = compileUseName(raw.use, join(at, "use"), problems, env);
    if (name !== undefined) steps.push((v, ctx) => readUse(name, v, ctx));
  }
  if (raw.get !== undefined) {
    const g = compileGetPath(raw.get, join(at, "get"), problems);
    if (g !== undefined) {
      const rel = runtimeAt(join(at, "get"));
      const { sel, required } = g;
      steps.push((_v, ctx) => {
        const x = readGet(sel, ctx);
        if (required && (x === undefined || (Array.isArray(x) && x.length === 0))) {
          throw new EvalError(rel, `required path ${sel.text} is absent`);
        }
        return x;
      });
    }
  }
  if (raw.properties !== undefined) {
    const pat = join(at, "properties");
    if (!isPlainObject(raw.properties)) problems.add(pat, "must be an object of key → schema");
    else {
      const props = Object.entries(raw.properties).map(([k, s]) =>
        [k, compileSchemaAt(s, join(pat, k), problems, env, depth + 1)] as const
      );
      steps.push((v, ctx) => {
        const out: Record<string, unknown> = {};
        for (const [k, f] of props) {
          const x = f(isPlainObject(v) && Object.hasOwn(v, k) ? v[k] : undefined, ctx);
          if (x !== undefined) defineKey(out, k, x);
        }
        return out;
      });
    }
  }
  if (raw.if !== undefined) {
    const cond = compileSchemaCondition(raw.if, join(at, "if"), problems, env);
    const then = raw.then === undefined
      ? undefined
      : compileSchemaAt(raw.then, join(at, "then"), problems, env, depth + 1);
    const otherwise = raw.else === undefined
      ? undefined
      : compileSchemaAt(raw.else, join(at, "else"), problems, env, depth + 1);
    if (then === undefined && otherwise === undefined) {
      problems.add(join(at, "then"), "if needs then or else");
    }
    steps.push((v, ctx) => {
      const branch = cond({ v, ctx }) ? then : otherwise;
      return branch === undefined ? v : branch(v, ctx);
    });
  } else {
    for (const k of COMPANIONS) {
      if (raw[k] !== undefined) problems.add(join(at, k), "only allowed with if");
    }
  }
  if (raw.concat !== undefined) {
    const f = compileConcat(raw.concat, join(at, "concat"), problems, env, depth);
    if (f !== undefined) steps.push(f);
  }
  if (raw.switch !== undefined) {
    const f = compileSwitch(raw.switch, join(at, "switch"), problems, env, depth);
    if (f !== undefined) steps.push(f);
  }
  if (raw.pipe !== undefined) {
    const fns = compileSchemaList(raw.pipe, join(at, "pipe"), problems, env, depth, "pipe");
    if (fns !== undefined) {
      steps.push((v, ctx) => {
        for (const f of fns) v = f(v, ctx);
        return v;
      });
    }
  }
  if ("default" in raw) {
    const d = raw.default;
    if (!isJson(d)) problems.add(join(at, "default"), "must be a JSON value");
    steps.push((v) => v === undefined || v === null || v === "" ? d : v);
  }
  if (raw.translate !== undefined) {
    const f = compileTranslate(raw.translate, join(at, "translate"), problems, env);
    if (f !== undefined) steps.push(f);
  }
  if (raw.comment !== undefined && typeof raw.comment !== "string") {
    problems.add(join(at, "comment"), "must be a string");
  }

  if (steps.length === 0) return identity;
  if (steps.length === 1) {
    const s = steps[0] as SchemaFn;
    return (v, ctx) => {
      const out = s(v, ctx);
      return out === OMIT ? undefined : out;
    };
  }
  return (v, ctx) => {
    for (const s of steps) {
      v = s(v, ctx);
      if (v === OMIT) return undefined;
    }
    return v;
  };
}

/** Sets `o[k]`, as an own property even for `__proto__`. */
export function defineKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else o[k] = v;
}
