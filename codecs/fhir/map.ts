/**
 * The walker of the FHIR tables: a data-model object → a resource ({@link toResource}) and a
 * resource → a data-model object ({@link fromResource}), and what the table did not carry
 * ({@link residueOf}), so that data model → FHIR → data model gives the object back.
 *
 * A property counts as carried when reading the resource back gives the same value; whatever
 * is not carried (an unmapped property, a code FHIR has no word for, `13.20` written as 13.2)
 * stays in the residue, kept on the resource as an extension (extensions.ts).
 *
 * @module
 */

import { getPath, isObject, type JsonObject, keysOf } from "../datamodel/json_path.ts";
import {
  compact,
  readFhir,
  readSteps,
  type Step,
  steps,
  writeFhir,
  writeSteps,
} from "./fhir_path.ts";
import { FhirError } from "./errors.ts";
import type { MapContext, ResourceMap, Rule } from "./rules.ts";

/**
 * A copy of plain JSON (what the tables and residues hold): structuredClone's generality (and
 * its op call) cost more than the copy itself on these small values.
 */
function cloneJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cloneJson);
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const k in v) out[k] = cloneJson(v[k]);
    return out;
  }
  return v;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "";
}

/**
 * A rule with its paths parsed once: the tables are constants, and a bundle walks them dozens of
 * times (each walk otherwise looked every path up in the parse caches). A path that does not
 * parse is left to the string functions, which throw where they always did.
 */
interface Compiled {
  readonly r: Rule;
  /** Keys of `dm` (path and each rules). */
  readonly dm: readonly string[];
  /** Steps of `fx` (path, each and fixed rules), `undefined` when it does not parse. */
  readonly fx: readonly Step[] | undefined;
  /** An each rule's array: the steps to its parent (`undefined`: see `readArray`) and its key. */
  readonly arrParent: readonly Step[] | undefined;
  readonly arrKey: string;
  /** An each rule's `fixed` as entries. */
  readonly fixedEntries: readonly (readonly [string, unknown])[];
}

const compiledRules = new WeakMap<readonly Rule[], readonly Compiled[]>();

function tryParse(fx: string): readonly Step[] | undefined {
  try {
    return steps(fx);
  } catch {
    return undefined;
  }
}

function compile(rules: readonly Rule[]): readonly Compiled[] {
  let out = compiledRules.get(rules);
  if (out !== undefined) return out;
  out = rules.map((r): Compiled => {
    const dm = r.kind === "path" || r.kind === "each" ? keysOf(r.dm) : [];
    const fx = r.kind === "fn" ? undefined : tryParse(r.fx);
    let arrParent: readonly Step[] | undefined, arrKey = "";
    let fixedEntries: (readonly [string, unknown])[] = [];
    if (r.kind === "each") {
      const dot = r.fx.lastIndexOf(".");
      arrParent = dot < 0 ? [] : tryParse(r.fx.slice(0, dot));
      arrKey = r.fx.slice(dot + 1);
      fixedEntries = Object.entries(r.fixed ?? {});
    }
    return { r, dm, fx, arrParent, arrKey, fixedEntries };
  });
  compiledRules.set(rules, out);
  return out;
}

function getKeys(obj: unknown, keys: readonly string[]): unknown {
  let v: unknown = obj;
  for (let i = 0; i < keys.length; i++) {
    if (!isObject(v)) return undefined;
    v = v[keys[i] as string];
  }
  return v;
}

/** `setPath` with the keys already split. */
function setKeys(obj: JsonObject, keys: readonly string[], value: unknown): void {
  let o = obj;
  const last = keys.length - 1;
  for (let i = 0; i < last; i++) {
    const k = keys[i] as string;
    let next = o[k];
    if (!isObject(next)) o[k] = next = {};
    o = next as JsonObject;
  }
  o[keys[last] as string] = value;
}

function write(res: JsonObject, c: Compiled, fx: string, value: unknown): void {
  if (c.fx === undefined) writeFhir(res, fx, value);
  else writeSteps(res, c.fx, value, fx);
}

function applyToFhir(rules: readonly Rule[], obj: JsonObject, res: JsonObject, ctx: MapContext) {
  const all = compile(rules);
  for (let i = 0; i < all.length; i++) {
    const c = all[i] as Compiled, r = c.r;
    switch (r.kind) {
      case "path": {
        if (r.when !== undefined && !r.when.toFhir(obj, ctx)) break;
        // `dm: ""` is a scalar array element, wrapped as `{"": value}` by the array rule.
        const v = r.dm === "" ? obj[""] : getKeys(obj, c.dm);
        if (!present(v)) break;
        const f = r.conv ? r.conv.toFhir(v, ctx) : v;
        if (f !== undefined) write(res, c, r.fx, f);
        break;
      }
      case "each": {
        const v = r.dm === "" ? obj : getKeys(obj, c.dm);
        // An object (not an array) is one element: a Coverage class from the plan's fields.
        const arr = isObject(v) ? [v] : v;
        if (!Array.isArray(arr)) break;
        const out: unknown[] = [];
        for (const el of arr) {
          const e: JsonObject = r.fixed ? cloneJson(r.fixed) as JsonObject : {};
          // A scalar element (`EmailAddresses[]`) is read by rules with `dm: ""` as `{"": v}`.
          applyToFhir(r.rules, isObject(el) ? el : { "": el }, e, ctx);
          if (!same(e, r.fixed ?? {})) out.push(e);
        }
        if (out.length === 0) break;
        const existing = arrayOf(res, c, r.fx);
        if (Array.isArray(existing)) existing.push(...out);
        else write(res, c, r.fx, out);
        break;
      }
      case "fixed": {
        const v = r.value(obj, ctx);
        if (v !== undefined) write(res, c, r.fx, v);
        break;
      }
      case "fn":
        r.toFhir(obj, res, ctx);
        break;
    }
  }
}

/** The array at a path whose last step names the array (`identifier`, `name[0].given`). */
function readArray(res: JsonObject, fx: string): unknown {
  const dot = fx.lastIndexOf(".");
  const parent = dot < 0 ? res : readFhir(res, fx.slice(0, dot));
  return isObject(parent) ? parent[fx.slice(dot + 1)] : undefined;
}

/** {@link readArray} with the rule's path parsed once. */
function arrayOf(res: JsonObject, c: Compiled, fx: string): unknown {
  if (c.arrParent === undefined) return readArray(res, fx);
  const parent = c.arrParent.length === 0 ? res : readSteps(res, c.arrParent);
  return isObject(parent) ? parent[c.arrKey] : undefined;
}

function applyToDm(rules: readonly Rule[], res: JsonObject, obj: JsonObject, ctx: MapContext) {
  const all = compile(rules);
  for (let i = 0; i < all.length; i++) {
    const c = all[i] as Compiled, r = c.r;
    switch (r.kind) {
      case "path": {
        if (r.when !== undefined && !r.when.toDm(res, ctx)) break;
        const f = c.fx === undefined ? readFhir(res, r.fx) : readSteps(res, c.fx);
        if (f === undefined || f === null) break;
        const v = r.conv ? r.conv.toDm(f, ctx) : f;
        if (v === undefined) {
          const why = r.conv?.refuse?.(f);
          // Located by the caller, which knows the entry (`Bundle.entry[1].resource.` + path).
          if (why !== undefined) throw new FhirError([{ path: r.fx, text: why }]);
          break;
        }
        if (r.dm === "") obj[""] = v;
        else if (getKeys(obj, c.dm) === undefined) setKeys(obj, c.dm, v);
        break;
      }
      case "each": {
        const arr = arrayOf(res, c, r.fx);
        if (!Array.isArray(arr)) break;
        const fixedEntries = c.fixedEntries;
        const out: unknown[] = [];
        for (const el of arr) {
          if (!isObject(el)) continue;
          if (fixedEntries.some(([k, v]) => !contains(el[k], v))) continue;
          if (r.skip?.(el)) continue;
          const o: JsonObject = {};
          applyToDm(r.rules, el, o, ctx);
          if ("" in o) out.push(o[""]);
          else if (Object.keys(o).length > 0) out.push(o);
        }
        if (out.length === 0) break;
        if (r.single) {
          const one = out[0] as JsonObject;
          if (r.dm === "") merge(obj, one);
          else if (getKeys(obj, c.dm) === undefined) setKeys(obj, c.dm, one);
        } else if (getKeys(obj, c.dm) === undefined) setKeys(obj, c.dm, out);
        break;
      }
      case "fixed":
        break;
      case "fn":
        r.toDm(res, obj, ctx);
        break;
    }
  }
}

/** A data-model object → a resource of the table's type (without id, residue or references). */
export function toResource(map: ResourceMap, obj: JsonObject, ctx: MapContext): JsonObject {
  const res: JsonObject = { resourceType: map.resourceType };
  applyToFhir(map.rules, obj, res, ctx);
  const out = (compact(res) ?? {}) as JsonObject;
  if (map.profile !== undefined) out.meta = { profile: [map.profile] };
  return out;
}

/** A resource → the data-model object the table reads from it. */
export function fromResource(map: ResourceMap, res: JsonObject, ctx: MapContext): JsonObject {
  const obj: JsonObject = {};
  applyToDm(map.rules, res, obj, ctx);
  return obj;
}

/** What reading a resource back did not give: values to put back, paths to remove. */
export interface Residue {
  /** Properties (a sparse copy of the object) whose value the resource does not carry. */
  Keep?: JsonObject;
  /** Dotted paths the resource gives that the object did not have. */
  Drop?: string[];
}

/** The number of own keys of a plain object, without making the list of them. */
function keyCount(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => same(x, bb[i]));
  }
  let n = 0;
  for (const k in a) {
    if (!same((a as JsonObject)[k], (b as JsonObject)[k])) return false;
    n++;
  }
  return n === keyCount(b);
}

/** Whether `value` holds everything `pattern` has (arrays element by element). */
function contains(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && pattern.every((p, i) => contains(value[i], p));
  }
  if (isObject(pattern)) {
    if (!isObject(value)) return false;
    for (const k in pattern) if (!contains(value[k], pattern[k])) return false;
    return true;
  }
  return value === pattern;
}

/**
 * The properties of `orig` that `back` lacks or has otherwise (into `keep`, created on the first
 * one), and the paths `back` has that `orig` does not (into `out.Drop`). `path` is the keys down
 * to here; the dotted string is only made for a path to drop.
 */
function diff(
  orig: JsonObject,
  back: JsonObject,
  path: string[],
  out: Residue,
): JsonObject | undefined {
  let keep: JsonObject | undefined;
  for (const k in orig) {
    const o = orig[k], b = back[k];
    if (isObject(o) && isObject(b)) {
      path.push(k);
      const sub = diff(o, b, path, out);
      path.pop();
      if (sub !== undefined) (keep ??= {})[k] = sub;
    } else if (!same(o, b)) (keep ??= {})[k] = o;
  }
  for (const k in back) {
    if (!(k in orig)) (out.Drop ??= []).push(path.length === 0 ? k : `${path.join(".")}.${k}`);
  }
  return keep;
}

/** What `back` (the object read from the resource) lacks or has too much of `orig`. */
export function residueOf(orig: JsonObject, back: JsonObject): Residue | undefined {
  const out: Residue = {};
  const keep = diff(orig, back, [], out);
  if (keep !== undefined) out.Keep = keep;
  return out.Keep === undefined && out.Drop === undefined ? undefined : out;
}

function merge(into: JsonObject, keep: JsonObject): void {
  for (const [k, v] of Object.entries(keep)) {
    if (isObject(v) && isObject(into[k])) merge(into[k] as JsonObject, v);
    else into[k] = cloneJson(v);
  }
}

/** Applies a residue to an object read from a resource: the original object again. */
export function applyResidue(obj: JsonObject, residue: Residue | undefined): void {
  if (residue === undefined) return;
  for (const p of residue.Drop ?? []) {
    const keys = p.split(".");
    const parent = keys.length === 1 ? obj : getPath(obj, keys.slice(0, -1).join("."));
    if (isObject(parent)) delete parent[keys[keys.length - 1] as string];
  }
  if (residue.Keep !== undefined) merge(obj, residue.Keep);
}
