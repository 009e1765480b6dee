/**
 * Rules compiled for the reader's hot path: leaf addresses parsed and JSON key paths resolved
 * once per segment map, so reading a leaf costs no string building and no map lookups.
 *
 * @module
 */

import { keysOf } from "./json_path.ts";
import {
  type Bucket,
  type Condition,
  type ConstRule,
  type LeafRule,
  parseAddress,
  type RangeRule,
  type SegmentMap,
  type StructuredRule,
} from "./rules.ts";

/** A JSON location: keys from the segment's base object, or from the scope object. */
export interface Place {
  readonly fromScope: boolean;
  readonly keys: readonly string[];
  /** Dotted, for messages. */
  readonly path: string;
}

/** A leaf rule with its address and place. */
export interface CLeaf {
  readonly kind: "leaf";
  readonly rule: LeafRule;
  readonly f: number;
  readonly r: number;
  readonly c: number;
  readonly s: number;
  readonly at: Place;
}

/** A constant rule with its address. */
export interface CConst {
  readonly kind: "const";
  readonly rule: ConstRule;
  readonly f: number;
  readonly r: number;
  readonly c: number;
  readonly s: number;
  readonly when: Condition | undefined;
}

/** A bucket: its place, its leaves (relative to the element), and the fill it writes. */
export interface CBucket {
  readonly bucket: Bucket;
  readonly at: Place;
  /** The element is a value, not an object (its leaves all have `j: ""`). */
  readonly scalar: boolean;
  readonly leaves: readonly CLeaf[];
  readonly fill: readonly (readonly [number, number, string])[];
}

/** A repetitions rule. */
export interface CReps {
  readonly kind: "reps";
  readonly f: number;
  readonly buckets: readonly CBucket[];
}

/** A range rule. */
export interface CRange {
  readonly kind: "range";
  readonly rule: RangeRule;
  readonly f: number;
  readonly r: number;
  readonly c: number;
  readonly s: number;
  readonly at: Place;
}

/** A structured numeric rule (its components are 1-4 of repetition 1 of field `f`). */
export interface CStructured {
  readonly kind: "structured";
  readonly rule: StructuredRule;
  readonly f: number;
  readonly at: Place;
}

/** Any compiled rule. */
export type CRule = CLeaf | CConst | CReps | CRange | CStructured;

/** A compiled segment map. */
export interface CSegment {
  readonly map: SegmentMap;
  /** Primary rules, in table order. */
  readonly rules: readonly CRule[];
  /** Fallback leaves, read after the whole message. */
  readonly fallbacks: readonly CLeaf[];
  /** The only leaf gives the array element itself (NTE → a list of strings). */
  readonly scalar: boolean;
}

/** Where `j` lands for a segment whose object is at `prefix` (`""` for array elements). */
export function place(prefix: string, j: string): Place {
  if (j.charCodeAt(0) === 47 /* "/" */) {
    return { fromScope: true, keys: keysOf(j.slice(1)), path: j.slice(1) };
  }
  if (prefix === "" && j === "") return { fromScope: false, keys: ["$"], path: "" };
  const path = prefix === "" ? j : j === "" ? prefix : `${prefix}.${j}`;
  return { fromScope: false, keys: keysOf(path), path };
}

function compileLeaf(rule: LeafRule, prefix: string, inRep: boolean): CLeaf {
  const a = parseAddress(inRep ? `1.${rule.h}` : rule.h);
  return {
    kind: "leaf",
    rule,
    f: a.field,
    r: a.rep,
    c: a.comp,
    s: a.sub,
    at: place(prefix, rule.j),
  };
}

const compiled = new WeakMap<SegmentMap, CSegment>();

/** The compiled form of a segment map (memoised). */
export function compileSegment(map: SegmentMap): CSegment {
  const known = compiled.get(map);
  if (known !== undefined) return known;
  const prefix = map.many ? "" : map.at;
  const rules: CRule[] = [];
  const fallbacks: CLeaf[] = [];
  for (const rule of map.rules) {
    switch (rule.kind) {
      case "leaf": {
        const c = compileLeaf(rule, prefix, false);
        (rule.fallback ? fallbacks : rules).push(c);
        break;
      }
      case "const": {
        const a = parseAddress(rule.h);
        rules.push({
          kind: "const",
          rule,
          f: a.field,
          r: a.rep,
          c: a.comp,
          s: a.sub,
          when: rule.when,
        });
        break;
      }
      case "range": {
        const a = parseAddress(rule.h);
        rules.push({
          kind: "range",
          rule,
          f: a.field,
          r: a.rep,
          c: a.comp,
          s: a.sub,
          at: place(prefix, rule.j),
        });
        break;
      }
      case "structured":
        rules.push({ kind: "structured", rule, f: rule.f, at: place(prefix, rule.j) });
        break;
      case "reps":
        rules.push({
          kind: "reps",
          f: rule.f,
          buckets: rule.buckets.map((b) => ({
            bucket: b,
            at: place(prefix, b.j),
            scalar: b.leaves.every((l) => l.j === ""),
            leaves: b.leaves.map((l) => compileLeaf(l, "", true)),
            fill: Object.entries(b.fill ?? {}).map(([h, v]) => {
              const a = parseAddress(`1.${h}`);
              return [a.comp, a.sub, v] as const;
            }),
          })),
        });
        break;
    }
  }
  const scalar = map.many === true && map.rules.some((r) => r.kind === "leaf" && r.j === "");
  const out: CSegment = { map, rules, fallbacks, scalar };
  compiled.set(map, out);
  return out;
}
