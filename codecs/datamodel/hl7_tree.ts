/**
 * Raw HL7 structure for the translator: a message as a list of split segments, leaves read
 * from them, and fields held as trees of encoded leaves for writing and for the extensions that
 * carry unmapped parts.
 *
 * Everything the translator writes uses the standard delimiters `|^~\&`; text from a message
 * with other delimiters is converted leaf by leaf.
 *
 * @module
 */

import {
  DEFAULT_DELIMITERS,
  escapeHl7,
  type Hl7Delimiters,
  type Hl7Message,
  unescapeHl7,
} from "../hl7v2/mod.ts";
import { nthPart } from "../hl7v2/structure.ts";

/** The standard delimiters, which every text the translator produces uses. */
export const STD: Hl7Delimiters = DEFAULT_DELIMITERS;

/** One segment split into fields; `fields[n]` is SEG-n (for MSH too: `fields[1]` is `|`). */
export interface RawSegment {
  readonly name: string;
  readonly fields: readonly string[];
}

/** Whether two delimiter sets are the same (so that text needs no conversion). */
export function sameDelimiters(a: Hl7Delimiters, b: Hl7Delimiters): boolean {
  return a.field === b.field && a.component === b.component && a.repetition === b.repetition &&
    a.escape === b.escape && a.subcomponent === b.subcomponent && a.truncation === b.truncation;
}

/** Splits a message into its segments (blank lines and text before MSH are dropped). */
export function rawSegments(message: Hl7Message): RawSegment[] {
  const d = message.delimiters;
  const out: RawSegment[] = [];
  const all = message.encode();
  const lines = all.indexOf("\n") === -1 ? all.split("\r") : all.split(/\r\n|\r|\n/);
  for (const line of lines) {
    // The parser accepted the text: a line is a segment, blank, or holds what precedes MSH.
    const start = out.length === 0 ? line.indexOf("MSH") : 0;
    const c = line.charCodeAt(start);
    // An empty line (after a final terminator) gives NaN, which no comparison catches.
    if (start === -1 || !(c >= 65 && c <= 90)) continue;
    const text = start > 0 ? line.slice(start) : line;
    const parts = text.split(d.field);
    const name = parts[0] as string;
    // MSH-1 is the separator itself: shift so that fields[n] is MSH-n as for other segments.
    out.push({ name, fields: name === "MSH" ? [name, d.field, ...parts.slice(1)] : parts });
  }
  return out;
}

/** The encoded text of a leaf of a field repetition (`rep` already split from the field). */
export function leafInRep(rep: string, comp: number, sub: number, d: Hl7Delimiters): string {
  const c = comp === 1 && rep.indexOf(d.component) === -1 ? rep : nthPart(rep, d.component, comp);
  if (c === undefined) return "";
  const s = sub === 1 && c.indexOf(d.subcomponent) === -1 ? c : nthPart(c, d.subcomponent, sub);
  return s ?? "";
}

/** The encoded text of a leaf of a whole field. */
export function leafInField(
  field: string,
  rep: number,
  comp: number,
  sub: number,
  d: Hl7Delimiters,
): string {
  const r = rep === 1 && field.indexOf(d.repetition) === -1
    ? field
    : nthPart(field, d.repetition, rep);
  return r === undefined ? "" : leafInRep(r, comp, sub, d);
}

/** Decodes a leaf's escape sequences. */
export function decodeLeaf(raw: string, d: Hl7Delimiters): string {
  return raw.indexOf(d.escape) === -1 ? raw : unescapeHl7(raw, d);
}

/** A field as repetitions → components → subcomponents of encoded text (standard delimiters). */
export type FieldTree = string[][][];

/** Splits an encoded field into a tree, converting its leaves to the standard delimiters. */
export function fieldTree(field: string, d: Hl7Delimiters): FieldTree {
  const same = sameDelimiters(d, STD);
  const reps = field.split(d.repetition);
  const out: FieldTree = new Array(reps.length);
  for (let r = 0; r < reps.length; r++) {
    const comps = (reps[r] as string).split(d.component);
    const rep: string[][] = new Array(comps.length);
    for (let c = 0; c < comps.length; c++) {
      const leaves = (comps[c] as string).split(d.subcomponent);
      if (!same) {
        for (let s = 0; s < leaves.length; s++) {
          const leaf = leaves[s] as string;
          if (leaf.indexOf(d.escape) !== -1 || hasStdSpecial(leaf)) {
            leaves[s] = escapeHl7(unescapeHl7(leaf, d), STD);
          }
        }
      }
      rep[c] = leaves;
    }
    out[r] = rep;
  }
  return out;
}

/** A leaf holding a character that is a delimiter in the standard set must be re-escaped. */
function hasStdSpecial(leaf: string): boolean {
  return /[|^~\\&]/.test(leaf);
}

/** Sets a leaf in a tree, growing it as needed. */
export function setLeaf(t: FieldTree, rep: number, comp: number, sub: number, v: string): void {
  while (t.length < rep) t.push([[""]]);
  const r = t[rep - 1] as string[][];
  while (r.length < comp) r.push([""]);
  const c = r[comp - 1] as string[];
  while (c.length < sub) c.push("");
  c[sub - 1] = v;
}

/** A leaf of a tree, `""` when absent. */
export function getLeaf(t: FieldTree, rep: number, comp: number, sub: number): string {
  return t[rep - 1]?.[comp - 1]?.[sub - 1] ?? "";
}

/** Encodes a tree with the standard delimiters, dropping trailing empty parts at every level. */
export function encodeTree(t: FieldTree): string {
  // Most fields are one repetition of one component of one leaf: no arrays for those.
  if (t.length === 1) return encodeRep(t[0]!);
  return trimJoin(t.map(encodeRep), "~");
}

function encodeRep(rep: string[][]): string {
  if (rep.length === 1) return trimJoin(rep[0]!, "&");
  return trimJoin(rep.map((comp) => trimJoin(comp, "&")), "^");
}

function trimJoin(parts: string[], sep: string): string {
  let n = parts.length;
  while (n > 0 && parts[n - 1] === "") n--;
  if (n <= 1) return n === 0 ? "" : parts[0]!;
  return n === parts.length ? parts.join(sep) : parts.slice(0, n).join(sep);
}

/** Converts a whole segment's text to the standard delimiters. */
export function segmentToStd(seg: RawSegment, d: Hl7Delimiters): string {
  if (sameDelimiters(d, STD)) return seg.fields.join("|");
  const parts = [seg.name];
  for (let f = 1; f < seg.fields.length; f++) {
    parts.push(encodeTree(fieldTree(seg.fields[f] as string, d)));
  }
  return parts.join("|");
}

/** Calls `fn` for every non-empty leaf of a tree. */
export function forEachLeaf(
  t: FieldTree,
  fn: (rep: number, comp: number, sub: number, v: string) => void,
): void {
  for (let r = 0; r < t.length; r++) {
    const rep = t[r] as string[][];
    for (let c = 0; c < rep.length; c++) {
      const comp = rep[c] as string[];
      for (let s = 0; s < comp.length; s++) {
        const v = comp[s] as string;
        if (v !== "") fn(r + 1, c + 1, s + 1, v);
      }
    }
  }
}
