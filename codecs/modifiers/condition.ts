/**
 * Conditions, shared by the schema keyword `if`, `switch` cases, a modifier's own `if` and the
 * `if` of HL7 edits:
 *
 * ```json
 * {"operator": "equals", "get": "Meta.FacilityCode", "value": "LAB1"}
 * {"operator": "in", "values": ["1", "2"]}
 * {"operator": "matches", "get": "PID-3.1", "pattern": "^\\d{6}$"}
 * {"operator": "and", "conditions": [{…}, {…}]}      {"operator": "not", "condition": {…}}
 * ```
 *
 * The operand is what `get` (or, in modifiers, `use`) reads, else the value being worked on.
 * `equals`/`notEquals`/`in` compare JSON values; a number or boolean equals its text (`1` equals
 * `"1"`, since HL7 values are text) and an absent value equals `null`. `exists` is true for a
 * present value other than `null` and `""`. `matches` runs a linear-time pattern (see
 * `safe_regex.ts`) on a string, number or boolean operand.
 *
 * @module
 */

import { at as join, Problems } from "./problems.ts";
import { compileSafeRegex, type SafeRegex } from "./safe_regex.ts";

/** The operators, in documentation order. */
export const OPERATORS = [
  "equals",
  "notEquals",
  "in",
  "exists",
  "matches",
  "and",
  "or",
  "not",
] as const;

/** A condition operator. */
export type Operator = typeof OPERATORS[number];

/** A compiled condition over a context `C`. */
export type Condition<C> = (c: C) => boolean;

/** Reads an operand from a context. */
export type Operand<C> = (c: C) => unknown;

/** What the condition compiler needs from its caller (JSON modifiers or HL7 edits). */
export interface ConditionEnv<C> {
  /** Compiles the `get` path; reports problems at `at`. */
  compileGet(raw: unknown, at: string, problems: Problems): Operand<C> | undefined;
  /** Compiles a `use` name, where `use` is allowed (modifiers); undefined: not allowed. */
  compileUse?(raw: unknown, at: string, problems: Problems): Operand<C> | undefined;
  /** The operand when neither `get` nor `use` is given; undefined: one is required. */
  readonly current?: Operand<C>;
  /** Why an operand is required, when `current` is undefined. */
  readonly needOperand?: string;
}

/** Most nested conditions (and/or/not) accepted. */
const MAX_DEPTH = 16;

const KEYS = new Set([
  "operator",
  "get",
  "use",
  "value",
  "values",
  "pattern",
  "flags",
  "conditions",
  "condition",
  "comment",
]);

/** JSON equality with text/number leniency (see the module doc). */
export function looseEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a == null || b == null) return a == null && b == null;
  const ta = typeof a, tb = typeof b;
  if (ta === "string" && (tb === "number" || tb === "boolean")) return a === String(b);
  if (tb === "string" && (ta === "number" || ta === "boolean")) return b === String(a);
  if (ta !== "object" || tb !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => looseEquals(x, bb[i]));
  }
  const ka = Object.keys(a as object), kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  return ka.every((k) =>
    Object.hasOwn(ob, k) && looseEquals((a as Record<string, unknown>)[k], ob[k])
  );
}

function isJsonValue(v: unknown): boolean {
  return v === null || ["string", "number", "boolean", "object"].includes(typeof v);
}

/**
 * Compiles a condition. Problems are reported at `at` + `.operator`, `.pattern`… and the
 * function still returns a condition (always false) so that every problem is found in one pass.
 */
export function compileCondition<C>(
  raw: unknown,
  at: string,
  problems: Problems,
  env: ConditionEnv<C>,
  depth = 0,
): Condition<C> {
  const never: Condition<C> = () => false;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.add(at, 'must be an object like {"operator": "equals", "get": "…", "value": "…"}');
    return never;
  }
  if (depth > MAX_DEPTH) {
    problems.add(at, `conditions nest deeper than ${MAX_DEPTH}`);
    return never;
  }
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!KEYS.has(k)) problems.add(join(at, k), `unknown (known: ${[...KEYS].join(", ")})`);
  }
  const op = c.operator;
  if (op === undefined) {
    problems.add(join(at, "operator"), `missing (one of ${OPERATORS.join(", ")})`);
    return never;
  }
  if (!OPERATORS.includes(op as Operator)) {
    problems.add(join(at, "operator"), `unknown (known: ${OPERATORS.join(", ")})`);
    return never;
  }
  if (op === "and" || op === "or") {
    const list = c.conditions;
    if (!Array.isArray(list) || list.length === 0) {
      problems.add(join(at, "conditions"), `${op} needs a non-empty list of conditions`);
      return never;
    }
    const parts = list.map((x, i) =>
      compileCondition(x, join(join(at, "conditions"), i), problems, env, depth + 1)
    );
    return op === "and" ? (ctx) => parts.every((p) => p(ctx)) : (ctx) => parts.some((p) => p(ctx));
  }
  if (op === "not") {
    if (c.condition === undefined) {
      problems.add(join(at, "condition"), "not needs a condition");
      return never;
    }
    const inner = compileCondition(c.condition, join(at, "condition"), problems, env, depth + 1);
    return (ctx) => !inner(ctx);
  }
  const operand = compileOperand(c, at, problems, env);
  if (operand === undefined) return never;
  switch (op as Operator) {
    case "equals":
    case "notEquals": {
      if (!("value" in c) || !isJsonValue(c.value)) {
        problems.add(join(at, "value"), `${op} needs a value`);
        return never;
      }
      const want = c.value;
      return op === "equals"
        ? (ctx) => looseEquals(operand(ctx), want)
        : (ctx) => !looseEquals(operand(ctx), want);
    }
    case "in": {
      if (!Array.isArray(c.values)) {
        problems.add(join(at, "values"), "in needs a list of values");
        return never;
      }
      const values = c.values as unknown[];
      return (ctx) => {
        const v = operand(ctx);
        return values.some((w) => looseEquals(v, w));
      };
    }
    case "exists":
      return (ctx) => {
        const v = operand(ctx);
        return v !== undefined && v !== null && v !== "";
      };
    case "matches": {
      let re: SafeRegex;
      try {
        if (typeof c.pattern !== "string") throw new Error("matches needs a pattern (a string)");
        if (c.flags !== undefined && typeof c.flags !== "string") {
          throw new Error('flags must be a string ("i" or "")');
        }
        re = compileSafeRegex(c.pattern, (c.flags as string | undefined) ?? "");
      } catch (e) {
        problems.add(join(at, "pattern"), (e as Error).message);
        return never;
      }
      return (ctx) => {
        const v = operand(ctx);
        const t = typeof v;
        return (t === "string" || t === "number" || t === "boolean") && re.test(String(v));
      };
    }
  }
  return never;
}

function compileOperand<C>(
  c: Record<string, unknown>,
  at: string,
  problems: Problems,
  env: ConditionEnv<C>,
): Operand<C> | undefined {
  if (c.get !== undefined && c.use !== undefined) {
    problems.add(join(at, "use"), "give get or use, not both");
    return undefined;
  }
  if (c.get !== undefined) return env.compileGet(c.get, join(at, "get"), problems);
  if (c.use !== undefined) {
    if (env.compileUse === undefined) {
      problems.add(join(at, "use"), "unknown (use get with a path)");
      return undefined;
    }
    return env.compileUse(c.use, join(at, "use"), problems);
  }
  if (env.current === undefined) {
    problems.add(join(at, "get"), env.needOperand ?? "required");
    return undefined;
  }
  return env.current;
}
