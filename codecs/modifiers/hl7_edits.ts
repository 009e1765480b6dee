/**
 * HL7 v2 edits: declarative changes to an HL7 message on its way to an MLLP or SFTP destination.
 * Paths are those of `codecs/hl7v2` (`PID-3[2].4`, `OBX[3]-5`) where a segment or field
 * repetition may be `[*]` (every one): `PID-3[*].4`, `OBX[*]-3.1`, `NTE[*]`.
 *
 * ```json
 * {"op": "set", "path": "PID-3[*].4", "value": "HOSP"}                 value escaped; "raw": true: as encoded
 * {"op": "copy", "from": "PID-2", "to": "PID-3[1]", "required": true}  encoded text, components kept
 * {"op": "delete", "path": "PID-19"}                                   a field, component, repetition or segment
 * {"op": "delete", "segments": ["ZPI", "NTE"]}                         every segment with those IDs
 * {"op": "translate", "path": "OBX[*]-3.1", "set": "labToLoinc", "onMissing": "fail"}
 * {"op": "map", "sendingApplication": "ENGINE", "receivingFacility": "LAB^1.2.3^ISO"}   MSH-3..6, encoded
 * ```
 *
 * Every edit may carry `if`, a condition (see `condition.ts`) whose `get` is an HL7 path; without
 * `get` it reads the value at the edit's path (for each match of a `[*]` path). A `get` naming
 * the edited segment without an occurrence (`OBX-3.1` in an edit of `OBX[*]-3.3`) reads the
 * occurrence being edited. `name` and `comment` are allowed on every edit.
 *
 * Edits are applied to a copy, in order. A segment nobody edits keeps its bytes, and so does
 * every field of an edited segment that was not edited; an edit that would write the value
 * already there writes nothing. Each run reports the HL7 paths it changed, never values.
 *
 * @module
 */

import type { Hl7Message } from "../hl7v2/message.ts";
import { Hl7Error } from "../hl7v2/errors.ts";
import { compileCondition, type Condition } from "./condition.ts";
import { at as join, EvalError, ModifierFailure, type Problem, Problems } from "./problems.ts";
import {
  isSetName,
  lookup,
  ON_MISSING,
  type OnMissing,
  type TranslationSets,
} from "./translation_set.ts";

/** The edit operations. */
export const HL7_OPS = ["set", "copy", "delete", "translate", "map"] as const;

/** An edit operation. */
export type Hl7Op = typeof HL7_OPS[number];

/** An HL7 path that may hold `[*]` for the segment or the field repetition. */
export interface Hl7Pattern {
  /** As written. */
  readonly text: string;
  /** Segment ID. */
  readonly segment: string;
  /** `"*"`, a number, or undefined (the first). */
  readonly segRep: "*" | number | undefined;
  /** Field number, or undefined for a whole segment. */
  readonly field?: number;
  /** `"*"`, a number, or undefined (the first; for delete: the whole field). */
  readonly fieldRep: "*" | number | undefined;
  /** Component, if given. */
  readonly component?: number;
  /** Subcomponent, if given. */
  readonly subcomponent?: number;
}

const PATTERN =
  /^([A-Z][A-Z0-9]{2})(?:\[(\*|[1-9]\d{0,4})\])?(?:-([1-9]\d{0,4})(?:\[(\*|[1-9]\d{0,4})\])?(?:\.([1-9]\d{0,4})(?:\.([1-9]\d{0,4}))?)?)?$/;

/** Parses an HL7 path with optional `[*]`; undefined when it does not follow the grammar. */
export function parseHl7Pattern(text: string): Hl7Pattern | undefined {
  const m = typeof text === "string" ? PATTERN.exec(text) : null;
  if (m === null) return undefined;
  const rep = (s: string | undefined) => s === undefined ? undefined : s === "*" ? "*" : Number(s);
  return {
    text,
    segment: m[1] as string,
    segRep: rep(m[2]),
    fieldRep: rep(m[4]),
    ...(m[3] !== undefined ? { field: Number(m[3]) } : {}),
    ...(m[5] !== undefined ? { component: Number(m[5]) } : {}),
    ...(m[6] !== undefined ? { subcomponent: Number(m[6]) } : {}),
  };
}

/** A concrete path for segment occurrence `s` and field repetition `r` of a pattern. */
function concrete(p: Hl7Pattern, s: number | undefined, r: number | undefined): string {
  let t = p.segment + (s === undefined ? "" : `[${s}]`);
  if (p.field === undefined) return t;
  t += `-${p.field}` + (r === undefined ? "" : `[${r}]`);
  if (p.component !== undefined) t += `.${p.component}`;
  if (p.subcomponent !== undefined) t += `.${p.subcomponent}`;
  return t;
}

/**
 * The concrete paths a pattern addresses in `msg`: every occurrence for `[*]` segments, every
 * present repetition for `[*]` fields; explicit and omitted repetitions as given.
 */
export function expandHl7Pattern(msg: Hl7Message, p: Hl7Pattern): string[] {
  const segs = p.segRep === "*"
    ? Array.from({ length: msg.count(p.segment) }, (_, i) => i + 1)
    : [p.segRep];
  if (p.fieldRep !== "*") return segs.map((s) => concrete(p, s, p.fieldRep as number | undefined));
  const out: string[] = [];
  for (const s of segs) {
    const fieldPath = concrete(
      { ...p, component: undefined, subcomponent: undefined } as Hl7Pattern,
      s,
      undefined,
    );
    const n = msg.getRepetitions(fieldPath, { raw: true }).length;
    for (let r = 1; r <= n; r++) out.push(concrete(p, s, r));
  }
  return out;
}

/** What an edit's condition is evaluated on. */
interface EditContext {
  readonly msg: Hl7Message;
  /** The concrete path being edited (undefined for map and segment lists). */
  readonly path?: string;
}

interface CompiledEdit {
  readonly index: number;
  readonly name?: string;
  readonly op: Hl7Op;
  readonly when?: Condition<EditContext>;
  /** Applies the edit; returns the concrete paths changed. */
  readonly apply: (msg: Hl7Message, ctx: RunContext) => string[];
}

interface RunContext {
  readonly sets: TranslationSets;
  readonly used: Map<string, number>;
  readonly when?: Condition<EditContext>;
  /** Set while working on a path, for failure reports. */
  target: string;
}

/** A compiled, validated edit list. */
export interface Hl7EditList {
  /** The edits in order. */
  readonly edits: readonly CompiledEdit[];
  /** Translation sets the list names. */
  readonly setNames: ReadonlySet<string>;
}

/** What one edit did. */
export interface Hl7EditRun {
  /** Position in its list. */
  readonly index: number;
  /** Its name, when it has one. */
  readonly name?: string;
  /** The operation. */
  readonly op: Hl7Op;
  /** HL7 paths changed (`PID-3[1].4`, `NTE[2]`), never values. */
  readonly changed: readonly string[];
}

/** The outcome of applying an edit list. */
export type Hl7EditResult =
  | {
    readonly ok: true;
    /** The edited copy (the input is never changed). */
    readonly message: Hl7Message;
    /** One entry per edit. */
    readonly runs: readonly Hl7EditRun[];
    /** Translation sets used, with their versions. */
    readonly translationSets: readonly { name: string; version: number }[];
  }
  | {
    readonly ok: false;
    /** Which edit failed, where and why. */
    readonly failure: ModifierFailure;
    /** What ran before it. */
    readonly runs: readonly Hl7EditRun[];
  };

const COMMON_KEYS = ["op", "name", "comment", "if"];
const OP_KEYS: Record<Hl7Op, string[]> = {
  set: ["path", "value", "raw"],
  copy: ["from", "to", "required"],
  delete: ["path", "segments"],
  translate: ["path", "set", "onMissing", "default"],
  map: ["sendingApplication", "sendingFacility", "receivingApplication", "receivingFacility"],
};
const MSH_FIELDS: Record<string, number> = {
  sendingApplication: 3,
  sendingFacility: 4,
  receivingApplication: 5,
  receivingFacility: 6,
};
/** Most edits in one list. */
export const MAX_EDITS = 200;

function compilePattern(
  raw: unknown,
  at: string,
  problems: Problems,
  opts: { wildcard?: boolean; writable?: boolean } = {},
): Hl7Pattern | undefined {
  const p = parseHl7Pattern(raw as string);
  if (p === undefined) {
    problems.add(at, 'must be an HL7 path like "PID-3[*].4", "OBX[*]-3.1" or "NTE[*]"');
    return undefined;
  }
  if (opts.wildcard === false && (p.segRep === "*" || p.fieldRep === "*")) {
    problems.add(at, "must address one place (no [*])");
    return undefined;
  }
  if (opts.writable && p.segment === "MSH" && (p.field === undefined || p.field <= 2)) {
    problems.add(at, "MSH, MSH-1 and MSH-2 cannot be changed");
    return undefined;
  }
  return p;
}

/** The condition environment of edits: `get` is an HL7 path, else the edit's own value. */
function editCondition(raw: unknown, at: string, problems: Problems, hasPath: boolean) {
  return compileCondition<EditContext>(raw, at, problems, {
    compileGet(g, gat, pr) {
      const p = compilePattern(g, gat, pr, { wildcard: false });
      if (p === undefined) return undefined;
      const path = p.text;
      if (p.segRep !== undefined) return ({ msg }) => msg.get(path);
      // Same segment as the edit, no occurrence given: read the occurrence being edited, so
      // that `OBX[*]-3.3` can depend on its own OBX-3.1.
      const tail = path.slice(3);
      return ({ msg, path: current }) => {
        const m = current === undefined ? null : SEG_REP.exec(current);
        if (m === null || m[1] !== p.segment) return msg.get(path);
        return msg.get(`${p.segment}[${m[2]}]${tail}`);
      };
    },
    ...(hasPath
      ? { current: ({ msg, path }: EditContext) => path === undefined ? undefined : msg.get(path) }
      : {}),
    needOperand: "required here (an HL7 path): this edit has no single path to read",
  });
}

const SEG_REP = /^([A-Z][A-Z0-9]{2})\[(\d+)\]/;

/** Where `text` holds a C0 control character other than TAB, or -1. */
function controlAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09) return i;
  }
  return -1;
}

/** Writes `raw` (encoded) at a concrete path unless it is already there; true when written. */
function writeRaw(msg: Hl7Message, path: string, raw: string): boolean {
  if (msg.getRaw(path) === raw) return false;
  msg.setRaw(path, raw);
  return true;
}

function forEachPath(
  msg: Hl7Message,
  p: Hl7Pattern,
  ctx: RunContext,
  fn: (path: string) => boolean,
  reverse = false,
): string[] {
  const paths = expandHl7Pattern(msg, p);
  if (reverse) paths.reverse();
  const changed: string[] = [];
  for (const path of paths) {
    ctx.target = path;
    if (ctx.when !== undefined && !ctx.when({ msg, path })) continue;
    if (fn(path)) changed.push(path);
  }
  return reverse ? changed.reverse() : changed;
}

function compileOne(
  e: Record<string, unknown>,
  at: string,
  problems: Problems,
  knownSets: ReadonlySet<string> | undefined,
): ((msg: Hl7Message, ctx: RunContext) => string[]) | undefined {
  const op = e.op as Hl7Op;
  const rel = op as string;
  switch (op) {
    case "set": {
      const p = compilePattern(e.path, join(at, "path"), problems, { writable: true });
      if (typeof e.value !== "string") problems.add(join(at, "value"), "must be a string");
      if (e.raw !== undefined && typeof e.raw !== "boolean") {
        problems.add(join(at, "raw"), "must be true or false");
      }
      if (p === undefined || typeof e.value !== "string") return undefined;
      if (p.field === undefined) {
        problems.add(join(at, "path"), "set needs a field, e.g. PID-3");
        return undefined;
      }
      // A raw value is written as it is: a control character in it (a CR ending the segment,
      // MLLP's framing bytes) would break the message. An escaped one is written \Xhh\.
      const control = e.raw === true ? controlAt(e.value) : -1;
      if (control !== -1) {
        const hex = e.value.charCodeAt(control).toString(16).toUpperCase().padStart(2, "0");
        problems.add(
          join(at, "value"),
          `a raw value may not hold the control character 0x${hex} (at ${control}); ` +
            `write it as \\X${hex}\\, or leave "raw" out to have it escaped`,
        );
        return undefined;
      }
      const value = e.value, raw = e.raw === true;
      return (msg, ctx) =>
        forEachPath(msg, p, ctx, (path) => {
          if (raw) return writeRaw(msg, path, value);
          if (msg.get(path) === value) return false;
          msg.set(path, value);
          return true;
        });
    }
    case "copy": {
      const from = compilePattern(e.from, join(at, "from"), problems, { wildcard: false });
      const to = compilePattern(e.to, join(at, "to"), problems, { writable: true });
      if (e.required !== undefined && typeof e.required !== "boolean") {
        problems.add(join(at, "required"), "must be true or false");
      }
      if (from === undefined || to === undefined) return undefined;
      if (from.field === undefined || to.field === undefined) {
        problems.add(join(at, from.field === undefined ? "from" : "to"), "copy works on fields");
        return undefined;
      }
      const required = e.required === true;
      return (msg, ctx) => {
        const raw = msg.getRaw(from.text);
        if (raw === undefined || raw === "") {
          if (required) {
            ctx.target = from.text;
            throw new EvalError("copy.from", `required path ${from.text} is absent`);
          }
          return [];
        }
        return forEachPath(msg, to, ctx, (path) => writeRaw(msg, path, raw));
      };
    }
    case "delete": {
      if ((e.path === undefined) === (e.segments === undefined)) {
        problems.add(join(at, "path"), "delete needs either path or segments");
        return undefined;
      }
      if (e.segments !== undefined) {
        const ok = Array.isArray(e.segments) && e.segments.length > 0 &&
          e.segments.every((s) => typeof s === "string" && /^[A-Z][A-Z0-9]{2}$/.test(s));
        if (!ok) {
          problems.add(join(at, "segments"), 'must be a list of segment IDs like ["ZPI", "NTE"]');
          return undefined;
        }
        const names = e.segments as string[];
        if (names.includes("MSH")) {
          problems.add(join(at, "segments"), "MSH cannot be deleted");
          return undefined;
        }
        const patterns = names.map((s) => parseHl7Pattern(`${s}[*]`) as Hl7Pattern);
        return (msg, ctx) => patterns.flatMap((p) => deleteAt(msg, p, ctx));
      }
      const p = compilePattern(e.path, join(at, "path"), problems, { writable: true });
      return p === undefined ? undefined : (msg, ctx) => deleteAt(msg, p, ctx);
    }
    case "translate": {
      const p = compilePattern(e.path, join(at, "path"), problems, { writable: true });
      if (!isSetName(e.set)) problems.add(join(at, "set"), "must name a translation set");
      else if (knownSets !== undefined && !knownSets.has(e.set)) {
        problems.add(
          join(at, "set"),
          `unknown translation set (declared: ${[...knownSets].join(", ") || "none"})`,
        );
      }
      if (e.onMissing !== undefined && !ON_MISSING.includes(e.onMissing as OnMissing)) {
        problems.add(join(at, "onMissing"), `unknown (known: ${ON_MISSING.join(", ")})`);
      }
      if (e.default !== undefined && typeof e.default !== "string") {
        problems.add(join(at, "default"), "must be a string");
      }
      if (p === undefined || !isSetName(e.set)) return undefined;
      if (p.field === undefined) {
        problems.add(join(at, "path"), "translate needs a field, e.g. PID-8");
        return undefined;
      }
      const set = e.set;
      const options = {
        ...(e.onMissing !== undefined ? { onMissing: e.onMissing as OnMissing } : {}),
        ...(typeof e.default === "string" ? { default: e.default } : {}),
      };
      return (msg, ctx) =>
        forEachPath(msg, p, ctx, (path) => {
          const v = msg.get(path);
          if (v === undefined || v === "") return false;
          const out = lookup(ctx.sets, set, v, rel, options, ctx.used);
          if (out === v) return false;
          msg.set(path, out);
          return true;
        });
    }
    case "map": {
      const fields = Object.keys(MSH_FIELDS).filter((k) => e[k] !== undefined);
      if (fields.length === 0) {
        problems.add(at, `map needs at least one of ${Object.keys(MSH_FIELDS).join(", ")}`);
        return undefined;
      }
      for (const k of fields) {
        if (typeof e[k] !== "string" || /[\r\n]/.test(e[k] as string)) {
          problems.add(join(at, k), "must be a string (encoded, e.g. LAB^1.2.3^ISO)");
        }
      }
      const writes = fields.map((k) => [`MSH-${MSH_FIELDS[k]}`, e[k]] as [string, string]);
      return (msg, ctx) => {
        if (ctx.when !== undefined && !ctx.when({ msg })) return [];
        const changed: string[] = [];
        for (const [path, value] of writes) {
          ctx.target = path;
          if (writeRaw(msg, path, value)) changed.push(path);
        }
        return changed;
      };
    }
  }
  return undefined;
}

/** Deletes what a pattern addresses (see the module doc); returns the paths changed. */
function deleteAt(msg: Hl7Message, p: Hl7Pattern, ctx: RunContext): string[] {
  if (p.field === undefined) {
    return forEachPath(msg, p, ctx, (path) => msg.removeSegment(path), true);
  }
  if (p.fieldRep !== undefined && p.component === undefined) {
    // One repetition (or each, last first): the later ones move up.
    return forEachPath(msg, p, ctx, (path) => {
      const r = Number(/\[(\d+)\]$/.exec(path)?.[1]);
      const fieldPath = path.slice(0, path.lastIndexOf("["));
      const reps = msg.getRepetitions(fieldPath, { raw: true });
      if (r > reps.length) return false;
      reps.splice(r - 1, 1);
      msg.setRepetitions(fieldPath, reps, { raw: true });
      return true;
    }, true);
  }
  if (p.component === undefined) {
    // A whole field, every repetition; absent stays absent (no padding fields are added).
    return forEachPath(msg, p, ctx, (path) => {
      if (msg.getRepetitions(path, { raw: true }).every((r) => r === "")) return false;
      msg.setRepetitions(path, []);
      return true;
    });
  }
  return forEachPath(msg, p, ctx, (path) => {
    const cur = msg.getRaw(path);
    if (cur === undefined || cur === "") return false;
    msg.setRaw(path, "");
    return true;
  });
}

/**
 * Validates and compiles an edit list; problem paths are relative to the list
 * (`[1].path`). `translationSets`: the declared set names, checked when given.
 */
export function compileHl7Edits(
  raw: unknown,
  env: { translationSets?: ReadonlySet<string> } = {},
): { ok: true; list: Hl7EditList } | { ok: false; problems: Problem[] } {
  const problems = new Problems();
  if (!Array.isArray(raw)) {
    problems.add("", "must be a list of edits");
    return { ok: false, problems: problems.list };
  }
  if (raw.length > MAX_EDITS) problems.add("", `more than ${MAX_EDITS} edits`);
  const edits: CompiledEdit[] = [];
  const setNames = new Set<string>();
  raw.forEach((e, index) => {
    const at = `[${index}]`;
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      problems.add(at, `must be an object {op, …} (op: ${HL7_OPS.join(", ")})`);
      return;
    }
    const r = e as Record<string, unknown>;
    if (!HL7_OPS.includes(r.op as Hl7Op)) {
      problems.add(
        join(at, "op"),
        r.op === undefined
          ? `missing (${HL7_OPS.join(", ")})`
          : `unknown (known: ${HL7_OPS.join(", ")})`,
      );
      return;
    }
    const op = r.op as Hl7Op;
    const allowed = [...COMMON_KEYS, ...OP_KEYS[op]];
    for (const k of Object.keys(r)) {
      if (!allowed.includes(k)) {
        problems.add(join(at, k), `unknown for ${op} (known: ${allowed.join(", ")})`);
      }
    }
    if (r.name !== undefined && (typeof r.name !== "string" || r.name.length > 128)) {
      problems.add(join(at, "name"), "must be a string of at most 128 characters");
    }
    if (r.comment !== undefined && typeof r.comment !== "string") {
      problems.add(join(at, "comment"), "must be a string");
    }
    const hasPath = (op === "set" || op === "translate" || op === "delete") && r.path !== undefined;
    const when = r.if === undefined
      ? undefined
      : editCondition(r.if, join(at, "if"), problems, hasPath || op === "copy");
    const apply = compileOne(r, at, problems, env.translationSets);
    if (op === "translate" && isSetName(r.set)) setNames.add(r.set);
    if (apply === undefined) return;
    edits.push({
      index,
      op,
      apply,
      ...(typeof r.name === "string" ? { name: r.name } : {}),
      ...(when !== undefined ? { when } : {}),
    });
  });
  if (!problems.ok) return { ok: false, problems: problems.list };
  return { ok: true, list: { edits, setNames } };
}

/**
 * Applies an edit list to a copy of `msg`. A failing edit (a required `copy` source absent, a
 * `translate` with no match and `onMissing: "fail"`, a value that does not fit its place) stops
 * the list, naming the edit and the HL7 path.
 */
export function applyHl7Edits(
  list: Hl7EditList,
  msg: Hl7Message,
  options: { translationSets?: TranslationSets } = {},
): Hl7EditResult {
  const copy = msg.clone();
  const used = new Map<string, number>();
  const runs: Hl7EditRun[] = [];
  for (const e of list.edits) {
    const ctx: RunContext = {
      sets: options.translationSets ?? new Map(),
      used,
      target: "",
      ...(e.when !== undefined ? { when: e.when } : {}),
    };
    try {
      const changed = e.apply(copy, ctx);
      runs.push({
        index: e.index,
        ...(e.name !== undefined ? { name: e.name } : {}),
        op: e.op,
        changed,
      });
    } catch (err) {
      const at = err instanceof EvalError ? err.at : e.op;
      const reason = err instanceof EvalError
        ? err.message
        : err instanceof Hl7Error
        ? `cannot write: ${err.message}`
        : `cannot apply: ${(err as Error).message}`;
      return {
        ok: false,
        failure: new ModifierFailure(e.index, e.name, at, ctx.target, reason, "edit"),
        runs,
      };
    }
  }
  return {
    ok: true,
    message: copy,
    runs,
    translationSets: [...used].map(([name, version]) => ({ name, version })),
  };
}
