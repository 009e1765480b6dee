/**
 * What the reader leaves for the extensions: leaves are marked *covered* when a rule read them
 * back exactly; a field minus its covered leaves is what `Extensions.HL7v2.Fields` keeps.
 *
 * @module
 */

import type { FieldTree } from "./hl7_tree.ts";

/** A leaf's coverage key (leaves past 127 in any dimension are never marked covered). */
export function leafKey(f: number, r: number, c: number, s: number): number {
  return ((f * 128 + r) * 128 + c) * 128 + s;
}

/** A field of one repetition without subcomponents, with covered components emptied. */
export function uncoveredComponents(raw: string, f: number, covered: readonly number[]): string {
  if (raw.indexOf("^") === -1) return covered.includes(leafKey(f, 1, 1, 1)) ? "" : raw;
  const comps = raw.split("^");
  let last = -1;
  for (let c = 0; c < comps.length; c++) {
    if (comps[c] === "") continue;
    if (covered.includes(leafKey(f, 1, c + 1, 1))) comps[c] = "";
    else last = c;
  }
  return last === -1 ? "" : comps.slice(0, last + 1).join("^");
}

/** The tree with covered leaves emptied and repetitions moved to their output positions. */
export function uncovered(
  t: FieldTree,
  f: number,
  covered: readonly number[],
  remap: number[] | undefined,
): FieldTree {
  for (let r = 0; r < t.length; r++) {
    const rep = t[r] as string[][];
    for (let c = 0; c < rep.length; c++) {
      const comp = rep[c] as string[];
      for (let s = 0; s < comp.length; s++) {
        if (comp[s] !== "" && covered.includes(leafKey(f, r + 1, c + 1, s + 1))) comp[s] = "";
      }
    }
  }
  if (remap === undefined) return t;
  const out: FieldTree = [];
  for (let r = 0; r < t.length; r++) out[(remap[r] as number) - 1] = t[r] as string[][];
  for (let r = 0; r < out.length; r++) out[r] ??= [[""]];
  return out;
}
