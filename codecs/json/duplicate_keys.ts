/**
 * Finding a key that a JSON object names twice. `JSON.parse` keeps the last value; other readers
 * of the same bytes keep the first, so what one program checked is not what another reads. The
 * engine refuses such JSON wherever it takes JSON: message bodies, its config file, operator
 * commands.
 *
 * @example
 * ```ts
 * import { duplicateKeyAt } from "./duplicate_keys.ts";
 *
 * duplicateKeyAt('{"a":{"b":1,"b":2}}'); // { key: "b", path: "$.a.b" }
 * ```
 * @module
 */

/** Keys of one object compared one by one; an object with more gets a set. */
const LISTED_KEYS = 16;
/** Longest key shown in a path or an error, in characters. */
const MAX_KEY_CHARS = 40;

/**
 * The first key that an object of `text` (valid JSON) names twice, as `JSON.parse` reads keys
 * (escapes decoded: `"I\u0044"` is `"ID"`), with the JSON path of its second use
 * (`$.Patient.Identifiers[0].ID`); undefined when there is none. Iterative and linear: strings
 * are skipped with `indexOf`, and a large object's keys are kept in a set.
 */
export function duplicateKeyAt(text: string): { key: string; path: string } | undefined {
  // Per open container (by level): array or object, its index or current key.
  const isArray: boolean[] = [];
  const index: number[] = [];
  const current: string[] = [];
  // The keys of each open object: listed on a stack from `from[level]`, or in `sets[level]`.
  const listed: string[] = [];
  const from: number[] = [];
  const sets: (Set<string> | undefined)[] = [];
  let depth = 0;
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // The closing quote: the next one not escaped (preceded by an even number of `\`).
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end < 0) return undefined; // Not JSON: the parser says why.
        let k = end;
        while (text.charCodeAt(k - 1) === 0x5c) k--;
        if ((end - k) % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (expectKey) {
        expectKey = false;
        const raw = text.slice(i + 1, end);
        const key = raw.includes("\\") ? JSON.parse(text.slice(i, end + 1)) as string : raw;
        const level = depth - 1;
        current[level] = key;
        const set = sets[level];
        let seen = set ? set.has(key) : false;
        if (set) set.add(key);
        else {
          const start = from[level]!;
          for (let k = start; k < listed.length && !seen; k++) seen = listed[k] === key;
          listed.push(key);
          if (listed.length - start > LISTED_KEYS) {
            sets[level] = new Set(listed.slice(start));
            listed.length = start;
          }
        }
        if (seen) {
          const segments = [];
          for (let d = 0; d < depth; d++) {
            segments.push(isArray[d] ? `[${index[d]}]` : keySegment(current[d]!));
          }
          return { key: clipKey(key), path: `$${segments.join("")}` };
        }
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      isArray[depth] = c === 0x5b;
      index[depth] = 0;
      from[depth] = listed.length;
      sets[depth] = undefined;
      depth++;
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (c === 0x7d) {
        listed.length = from[depth]!;
        sets[depth] = undefined;
      }
      expectKey = false;
    } else if (c === 0x2c) {
      if (isArray[depth - 1]) index[depth - 1]!++;
      else expectKey = true;
    }
  }
  return undefined;
}

/** `key` cut to {@link MAX_KEY_CHARS} characters. */
function clipKey(key: string): string {
  return key.length > MAX_KEY_CHARS ? `${key.slice(0, MAX_KEY_CHARS)}…` : key;
}

/** A key as a JSON path segment: `.Name`, or `["a b"]`. */
function keySegment(key: string): string {
  const shown = clipKey(key);
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(shown) ? `.${shown}` : `[${JSON.stringify(shown)}]`;
}
