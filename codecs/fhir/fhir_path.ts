/**
 * The small path language of the FHIR mapping tables: dotted element names, each optionally
 * followed by an index (`given[1]`) or a selector (`telecom[system=phone,use=home]`). A path
 * addresses one value; reading takes the first element that matches, writing finds or creates
 * it (a selector's properties are written into the element it creates). Reading and writing
 * walk the same path, so a table row cannot map one way only.
 *
 * Arrays are FHIR's: an element name without index or selector addresses its first element when
 * the value there is an array (`name.family` = `name[0].family`).
 *
 * @module
 */

import { isObject, type JsonObject } from "../datamodel/json_path.ts";

/** One step of a path. */
export interface Step {
  readonly name: string;
  /** 0-based index (`[n]`). */
  readonly index?: number;
  /** Properties the element must have (`[system=phone]`). */
  readonly select?: Readonly<Record<string, string>>;
  /** Whether the element is an array in FHIR (an index or a selector was given). */
  readonly array: boolean;
}

const cache = new Map<string, readonly Step[]>();

/** Parses a path; memoised (the tables use few paths). */
export function steps(path: string): readonly Step[] {
  let s = cache.get(path);
  if (s !== undefined) return s;
  const out: Step[] = [];
  // Dots inside brackets (selector values such as http://loinc.org) do not split.
  const parts = path === "" ? [] : path.match(/[^.[\]]+(?:\[[^\]]*\])?/g) ?? [];
  for (const part of parts) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?$/.exec(part);
    if (m === null) throw new Error(`bad FHIR path ${JSON.stringify(path)} in a mapping table`);
    const name = m[1] as string, inner = m[2];
    if (inner === undefined) out.push({ name, array: false });
    else if (/^\d+$/.test(inner)) out.push({ name, index: Number(inner), array: true });
    else {
      const select: Record<string, string> = {};
      for (const kv of inner.split(",")) {
        const eq = kv.indexOf("=");
        if (eq < 1) throw new Error(`bad selector in FHIR path ${JSON.stringify(path)}`);
        select[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      out.push({ name, select, array: true });
    }
  }
  cache.set(path, out);
  s = out;
  return s;
}

function matches(v: unknown, select: Readonly<Record<string, string>>): boolean {
  if (!isObject(v)) return false;
  for (const k in select) if (v[k] !== select[k]) return false;
  return true;
}

function pick(value: unknown, step: Step): unknown {
  if (!Array.isArray(value)) {
    return step.index === undefined || step.index === 0 ? value : undefined;
  }
  if (step.select !== undefined) {
    const select = step.select;
    return value.find((e) => matches(e, select));
  }
  return value[step.index ?? 0];
}

/** The value a path addresses in a resource, `undefined` when absent. */
export function readFhir(resource: unknown, path: string): unknown {
  return readSteps(resource, steps(path));
}

/** {@link readFhir} with the path already parsed (tables compiled once, map.ts). */
export function readSteps(resource: unknown, all: readonly Step[]): unknown {
  let v: unknown = resource;
  for (let i = 0; i < all.length; i++) {
    if (!isObject(v)) return undefined;
    const step = all[i] as Step;
    v = pick(v[step.name], step);
  }
  return v;
}

/** Writes a value at a path, creating the objects and array elements on the way. */
export function writeFhir(resource: JsonObject, path: string, value: unknown): void {
  writeSteps(resource, steps(path), value, path);
}

/** {@link writeFhir} with the path already parsed (`path` only names it in errors). */
export function writeSteps(
  resource: JsonObject,
  all: readonly Step[],
  value: unknown,
  path: string,
): void {
  let o = resource;
  for (let i = 0; i < all.length; i++) {
    const step = all[i] as Step, last = i === all.length - 1;
    if (!step.array) {
      if (last) o[step.name] = value;
      else {
        let next = o[step.name];
        if (Array.isArray(next)) next = next[0] ?? (next[0] = {});
        if (!isObject(next)) o[step.name] = next = {};
        o = next as JsonObject;
      }
      continue;
    }
    let arr = o[step.name];
    if (!Array.isArray(arr)) o[step.name] = arr = [];
    const list = arr as unknown[];
    if (step.select !== undefined) {
      const select = step.select;
      let el = list.find((e) => matches(e, select));
      if (el === undefined) list.push(el = { ...select });
      if (last) throw new Error(`a FHIR path cannot end with a selector: ${path}`);
      o = el as JsonObject;
      continue;
    }
    const index = step.index ?? 0;
    if (last) {
      list[index] = value;
      continue;
    }
    let el = list[index];
    if (!isObject(el)) list[index] = el = {};
    o = el as JsonObject;
  }
}

/**
 * Removes holes and empty objects/arrays left by writing (a middle name without a first name
 * leaves `given[0]` empty): FHIR has no nulls in arrays and no empty elements.
 */
export function compact(value: unknown): unknown {
  if (Array.isArray(value)) {
    // Copied only from the first element that changes: most arrays have nothing to remove.
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const e = value[i];
      const c = compact(e);
      if (out === undefined && c !== e) out = value.slice(0, i);
      if (out !== undefined && c !== undefined) out.push(c);
    }
    const result = out ?? value;
    return result.length === 0 ? undefined : result;
  }
  if (isObject(value)) {
    let out: JsonObject | undefined;
    let any = false;
    for (const k in value) {
      const v = value[k];
      const c = compact(v);
      if (out === undefined && c !== v) {
        out = {};
        for (const j in value) {
          if (j === k) break;
          out[j] = value[j];
        }
      }
      if (c !== undefined) {
        if (out !== undefined) out[k] = c;
        any = true;
      }
    }
    return any ? out ?? value : undefined;
  }
  return value === null || value === "" ? undefined : value;
}
