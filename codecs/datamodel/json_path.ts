/**
 * Dotted JSON paths (`Demographics.PhoneNumber.Home`) as used by the mapping tables.
 *
 * @module
 */

/** A JSON object as the translator builds and reads it. */
export type JsonObject = Record<string, unknown>;

const cache = new Map<string, readonly string[]>();

/** The keys of a dotted path (`""` has none); memoised, the tables use few paths. */
export function keysOf(path: string): readonly string[] {
  let k = cache.get(path);
  if (k === undefined) {
    k = path === "" ? [] : path.split(".");
    cache.set(path, k);
  }
  return k;
}

/** Whether a value is a plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value at a path, `undefined` when any step is missing or not an object. */
export function getPath(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const k of keysOf(path)) {
    if (!isObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

/** Sets the value at a path, creating the objects on the way. */
export function setPath(obj: JsonObject, path: string, value: unknown): void {
  const keys = keysOf(path);
  let o = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i] as string;
    let next = o[k];
    if (!isObject(next)) {
      next = {};
      o[k] = next;
    }
    o = next as JsonObject;
  }
  o[keys[keys.length - 1] as string] = value;
}

/** The object at a path, created (with its parents) when missing. */
export function objectAt(obj: JsonObject, path: string): JsonObject {
  let o = obj;
  for (const k of keysOf(path)) {
    let next = o[k];
    if (!isObject(next)) {
      next = {};
      o[k] = next;
    }
    o = next as JsonObject;
  }
  return o;
}

/** The array at a path, created (with its parents) when missing. */
export function arrayAt(obj: JsonObject, path: string): unknown[] {
  const keys = keysOf(path);
  const parent = keys.length > 1 ? objectAt(obj, keys.slice(0, -1).join(".")) : obj;
  const last = keys[keys.length - 1] as string;
  let a = parent[last];
  if (!Array.isArray(a)) {
    a = [];
    parent[last] = a;
  }
  return a as unknown[];
}
