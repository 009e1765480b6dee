/**
 * Building a transaction set's loop tree from its flat segments, following its implementation
 * guide's loop definitions. Each segment goes to the innermost open loop that lists it, or
 * starts the innermost child loop it triggers; otherwise the search moves one loop outward.
 * Hierarchical loops (HL) are nested under the HL their HL02 names as parent.
 *
 * @module
 */

import { makeIssue } from "../envelope.ts";
import type { X12Transaction } from "../envelope.ts";
import type { X12Issue } from "../errors.ts";
import type { X12Segment } from "../segment.ts";
import { findTransactionDef } from "./defs.ts";
import { type LoopDef, type TransactionDef, triggers } from "./schema.ts";

/** One occurrence of a loop. */
export interface X12Loop {
  /** Loop ID (`2010BA`; `header` for the transaction set level). */
  readonly id: string;
  /** Loop name from the implementation guide. */
  readonly name: string;
  /** The segments of this occurrence, trigger first, child loops' segments excluded. */
  readonly segments: X12Segment[];
  /** Child loop occurrences, in order. */
  readonly loops: X12Loop[];
  /** The enclosing loop (for HL loops, the HL named by HL02), `undefined` for the header. */
  readonly parent: X12Loop | undefined;
  /** The definition it follows. */
  readonly def: LoopDef;
}

/** A transaction set read into loops. */
export interface X12LoopTree {
  /** The definition used (`undefined`: the set is not known; every segment is in the header). */
  readonly def: TransactionDef | undefined;
  /** The transaction set level. */
  readonly root: X12Loop;
  /** Segments that fit no loop, and required segments or loops that are missing (IK3). */
  readonly issues: X12Issue[];
}

function allSegmentIds(def: LoopDef, into = new Set<string>()): Set<string> {
  into.add(def.trigger.segment);
  for (const s of def.segments) into.add(s.segment);
  for (const l of def.loops) allSegmentIds(l, into);
  return into;
}

const knownIds = new WeakMap<LoopDef, Set<string>>();
const slotIds = new WeakMap<LoopDef, Set<string>>();

/** The segment IDs a loop lists (cached: definitions are constants). */
function slotsOf(def: LoopDef): Set<string> {
  let s = slotIds.get(def);
  if (s === undefined) slotIds.set(def, s = new Set(def.segments.map((x) => x.segment)));
  return s;
}

/** Reads a transaction set's segments into loops (by ST01 and ST03/GS08 unless `def` is given). */
export function buildLoops(tx: X12Transaction, def?: TransactionDef): X12LoopTree {
  const d = def ?? findTransactionDef(tx.setId, tx.implementation);
  const issues: X12Issue[] = [];
  const headerDef: LoopDef = d?.header ?? {
    id: "header",
    name: `Transaction set ${tx.setId}`,
    trigger: { segment: "ST" },
    required: true,
    segments: [],
    loops: [],
  };
  const root: X12Loop = {
    id: "header",
    name: headerDef.name,
    segments: [],
    loops: [],
    parent: undefined,
    def: headerDef,
  };
  if (d === undefined) {
    root.segments.push(...tx.segments);
    return { def: d, root, issues };
  }
  let known = knownIds.get(headerDef);
  if (known === undefined) knownIds.set(headerDef, known = allSegmentIds(headerDef));
  // Segments of a set are contiguous in the input: position in set from the file index.
  const base = tx.segments[0]!.index - 1;
  const hlById = new Map<string, X12Loop>();
  const stack: X12Loop[] = [root];
  const [st, ...rest] = tx.segments;
  root.segments.push(st!);
  for (const seg of rest) {
    let placed = false;
    for (let depth = stack.length - 1; depth >= 0 && !placed; depth--) {
      const open = stack[depth]!;
      if (slotsOf(open.def).has(seg.id)) {
        stack.length = depth + 1;
        open.segments.push(seg);
        placed = true;
        break;
      }
      const child = open.def.loops.find((c) =>
        c.trigger.segment === seg.id && triggers(c.trigger, seg.elements)
      );
      if (child) {
        let parent = open;
        if (child.trigger.segment === "HL") {
          parent = hlById.get(seg.elements[2] ?? "") ?? open;
        }
        const inst: X12Loop = {
          id: child.id,
          name: child.name,
          segments: [seg],
          loops: [],
          parent,
          def: child,
        };
        if (child.trigger.segment === "HL") hlById.set(seg.elements[1] ?? "", inst);
        parent.loops.push(inst);
        stack.length = depth + 1;
        stack.push(inst);
        placed = true;
      }
    }
    if (!placed) {
      const where = stack[stack.length - 1]!;
      where.segments.push(seg);
      const inSet = known!.has(seg.id);
      issues.push(makeIssue({
        code: "UNEXPECTED_LOOP_SEGMENT",
        level: "transaction",
        seg,
        detail: inSet
          ? `${seg.id} is not expected in loop ${where.id} of ${d.name}`
          : `${seg.id} is not a segment of ${d.name}`,
        ik3: inSet ? "2" : "6",
        ik5: "5",
        loop: where.id === "header" ? undefined : where.id,
        positionInSet: seg.index - base,
      }));
    }
  }
  return { def: d, root, issues };
}

/**
 * Required segments and loops of the guide that a tree lacks (IK3 code 3), reported at the
 * position after the loop occurrence's last segment, where a reader notices the absence.
 */
export function missingRequired(tree: X12LoopTree): X12Issue[] {
  const issues: X12Issue[] = [];
  const d = tree.def;
  const root = tree.root;
  if (d === undefined) return issues;
  const base = root.segments[0]!.index - 1;
  const all: X12Loop[] = [];
  const walk = (l: X12Loop) => {
    all.push(l);
    l.loops.forEach(walk);
  };
  walk(root);
  const hlSeen = new Set(all.filter((l) => l.def.trigger.segment === "HL").map((l) => l.def));
  for (const inst of all) {
    const first = inst.segments[0]!;
    const last = inst.segments[inst.segments.length - 1]!;
    const at = last.index - base + (inst === root ? 0 : 1);
    for (const slot of inst.def.segments) {
      if (slot.required && !inst.segments.some((s) => s.id === slot.segment)) {
        issues.push(makeIssue({
          code: "MISSING_SEGMENT",
          level: "transaction",
          seg: { index: first.index, offset: first.offset, id: slot.segment },
          detail: `Required segment ${slot.segment} is missing from loop ${inst.id} of ${d.name}`,
          ik3: "3",
          ik5: "5",
          loop: inst.id === "header" ? undefined : inst.id,
          positionInSet: at,
        }));
      }
    }
    for (const child of inst.def.loops) {
      if (!child.required) continue;
      const present = child.trigger.segment === "HL"
        ? hlSeen.has(child)
        : inst.loops.some((l) => l.def === child);
      if (!present) {
        issues.push(makeIssue({
          code: "MISSING_SEGMENT",
          level: "transaction",
          seg: { index: first.index, offset: first.offset, id: child.trigger.segment },
          detail: `Required loop ${child.id} (${child.name}) is missing from ${
            inst.id === "header" ? "the transaction set" : `loop ${inst.id}`
          } of ${d.name}`,
          ik3: "3",
          ik5: "5",
          loop: child.id,
          positionInSet: at,
        }));
      }
    }
  }
  return issues;
}

/** Every loop occurrence of a tree in document order (the header first). */
export function allLoops(root: X12Loop): X12Loop[] {
  const out: X12Loop[] = [];
  const walk = (l: X12Loop) => {
    out.push(l);
    for (const c of l.loops) walk(c);
  };
  walk(root);
  return out;
}
