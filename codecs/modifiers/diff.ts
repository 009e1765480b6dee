/**
 * A path-level diff of two JSON values, for the try endpoint and tests: which paths were added,
 * removed or changed, never the values.
 *
 * @module
 */

import { formatKeys, isPlainObject } from "./json_selector.ts";

/** One difference. */
export interface JsonChange {
  /** Where: `Patient.Demographics.Sex`, `Orders[0].Results[2].Code`. */
  readonly path: string;
  /** What happened there. */
  readonly change: "added" | "removed" | "changed";
}

/** Most differences listed (a diff is for people, not a copy of the payload). */
export const MAX_DIFF_ENTRIES = 1000;

/**
 * The differences from `before` to `after`, in document order: objects compared key by key,
 * arrays index by index (a removed element shows as changes after it and a removal at the end),
 * anything else as a whole. At most {@link MAX_DIFF_ENTRIES} entries.
 */
export function diffJson(before: unknown, after: unknown): JsonChange[] {
  const out: JsonChange[] = [];
  const keys: (string | number)[] = [];
  const walk = (a: unknown, b: unknown): void => {
    if (out.length >= MAX_DIFF_ENTRIES || a === b) return;
    if (a === undefined) return void out.push({ path: formatKeys(keys), change: "added" });
    if (b === undefined) return void out.push({ path: formatKeys(keys), change: "removed" });
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        keys.push(i);
        walk(i < a.length ? a[i] : undefined, i < b.length ? b[i] : undefined);
        keys.pop();
      }
      return;
    }
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const k of Object.keys(a)) {
        keys.push(k);
        walk(a[k], Object.hasOwn(b, k) ? b[k] : undefined);
        keys.pop();
      }
      for (const k of Object.keys(b)) {
        if (Object.hasOwn(a, k)) continue;
        keys.push(k);
        walk(undefined, b[k]);
        keys.pop();
      }
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push({ path: formatKeys(keys), change: "changed" });
    }
  };
  walk(before, after);
  return out;
}
