/**
 * Reading values by path: `2010BA/NM1-09` (element 9 of the NM1 of loop 2010BA),
 * `2300[2]/2400/SV1-01-2` (component 2 of SV1-01 in every service line of the second claim),
 * `REF*EI-02` (REF-02 of the REF whose REF-01 is `EI`), `BHT-04` (anywhere in the set).
 *
 * Grammar: `[LOOP[[n]]/]... SEG[*QUALIFIER][[n]][-EE[-CC]]`. Loop steps are nested (a step
 * matches loops inside the previous step's, at any depth); `[n]` is 1-based and counts the
 * matches of that step in document order. A segment is looked up in the last loop's own
 * segments, or in every loop when the path names no loop.
 *
 * @module
 */

import { X12PathError } from "./errors.ts";
import { allLoops, type X12Loop, type X12LoopTree } from "./loops/build.ts";
import { component, type X12Segment } from "./segment.ts";

/** A parsed path. */
export interface X12Path {
  /** Loop steps, outermost first. */
  readonly loops: readonly { readonly id: string; readonly index?: number }[];
  /** Segment ID. */
  readonly segment: string;
  /** Required value of the segment's first element, when given (`REF*EI`). */
  readonly qualifier?: string;
  /** 1-based occurrence among the matching segments. */
  readonly segmentIndex?: number;
  /** 1-based element position. */
  readonly element?: number;
  /** 1-based component position. */
  readonly component?: number;
}

const LOOP_STEP = /^([0-9A-Za-z]+)(?:\[(\d+)\])?$/;
const SEGMENT_STEP =
  /^([A-Z][A-Z0-9]{1,2})(?:\*([^\[\]\-/]+))?(?:\[(\d+)\])?(?:-(\d{1,2})(?:-(\d{1,2}))?)?$/;

const cache = new Map<string, X12Path>();

/** Parses a path string. @throws {X12PathError} when it does not follow the grammar. */
export function parseX12Path(path: string): X12Path {
  const hit = cache.get(path);
  if (hit) return hit;
  const parts = path.split("/");
  const last = parts.pop()!;
  const m = SEGMENT_STEP.exec(last);
  if (!m) throw new X12PathError(path, `${JSON.stringify(last)} is not SEG[*QUAL][[n]]-EE[-CC]`);
  const loops = parts.map((p) => {
    const l = LOOP_STEP.exec(p);
    if (!l) throw new X12PathError(path, `${JSON.stringify(p)} is not a loop ID`);
    return l[2] === undefined ? { id: l[1]! } : { id: l[1]!, index: positive(path, l[2]) };
  });
  const out: X12Path = {
    loops,
    segment: m[1]!,
    ...(m[2] !== undefined ? { qualifier: m[2] } : {}),
    ...(m[3] !== undefined ? { segmentIndex: positive(path, m[3]) } : {}),
    ...(m[4] !== undefined ? { element: positive(path, m[4]) } : {}),
    ...(m[5] !== undefined ? { component: positive(path, m[5]) } : {}),
  };
  if (cache.size > 1000) cache.clear();
  cache.set(path, out);
  return out;
}

function positive(path: string, digits: string): number {
  const n = Number(digits);
  if (n < 1) throw new X12PathError(path, "positions and occurrences start at 1");
  return n;
}

function descendants(l: X12Loop, id: string, out: X12Loop[]): void {
  for (const c of l.loops) {
    if (c.id === id) out.push(c);
    descendants(c, id, out);
  }
}

/** The loop occurrences a path's loop steps select (the header when it has none). */
function selectLoops(tree: X12LoopTree, p: X12Path): X12Loop[] {
  if (p.loops.length === 0) return allLoops(tree.root);
  let current: X12Loop[] = [tree.root];
  for (const step of p.loops) {
    const next: X12Loop[] = [];
    const seen = new Set<X12Loop>();
    for (const c of current) {
      const found: X12Loop[] = [];
      descendants(c, step.id, found);
      for (const f of found) {
        if (!seen.has(f)) {
          seen.add(f);
          next.push(f);
        }
      }
    }
    current = step.index === undefined ? next : next.slice(step.index - 1, step.index);
  }
  return current;
}

/** Every segment a path selects, in document order. */
export function findSegments(tree: X12LoopTree, path: string | X12Path): X12Segment[] {
  const p = typeof path === "string" ? parseX12Path(path) : path;
  const out: X12Segment[] = [];
  for (const l of selectLoops(tree, p)) {
    for (const s of l.segments) {
      if (s.id === p.segment && (p.qualifier === undefined || s.elements[1] === p.qualifier)) {
        out.push(s);
      }
    }
  }
  return p.segmentIndex === undefined ? out : out.slice(p.segmentIndex - 1, p.segmentIndex);
}

function valueOf(seg: X12Segment, p: X12Path): string {
  if (p.element === undefined) return seg.elements.join(seg.separators.element);
  if (p.component === undefined) return seg.elements[p.element] ?? "";
  return component(seg, p.element, p.component);
}

/** The first value a path selects, or `undefined` when no segment matches. */
export function readX12(tree: X12LoopTree, path: string): string | undefined {
  const p = parseX12Path(path);
  const seg = findSegments(tree, p)[0];
  return seg === undefined ? undefined : valueOf(seg, p);
}

/** Every value a path selects, in document order. */
export function readAllX12(tree: X12LoopTree, path: string): string[] {
  const p = parseX12Path(path);
  return findSegments(tree, p).map((s) => valueOf(s, p));
}
