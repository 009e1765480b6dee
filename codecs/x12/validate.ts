/**
 * Element checks of a transaction set's segments, reported the way a 999 reports them (IK3 code 8
 * "segment has data element errors" with IK4 element codes): required elements present, dates and
 * times valid, amounts and quantities numeric. Together with the loop structure (unexpected and
 * missing segments) this gives a 999 its IK3/IK4 content.
 *
 * @module
 */

import { isValidDate, isValidTime, makeIssue, type X12Transaction } from "./envelope.ts";
import type { X12Issue } from "./errors.ts";
import { buildLoops, missingRequired, type X12Loop, type X12LoopTree } from "./loops/build.ts";
import type { X12Segment } from "./segment.ts";

/** Per segment ID: required element positions, dates, times and decimal numbers. */
interface ElementRules {
  readonly required?: readonly number[];
  readonly dates?: readonly number[];
  readonly times?: readonly number[];
  readonly numbers?: readonly number[];
}

/** Rules common to the 005010 health care guides (the elements each marks "Required"). */
const RULES: Record<string, ElementRules> = {
  BHT: { required: [1, 2, 4, 5], dates: [4], times: [5] },
  BGN: { required: [1, 2, 3, 4], dates: [3], times: [4] },
  BPR: { required: [1, 2, 3, 4, 16], dates: [16], numbers: [2] },
  NM1: { required: [1, 2] },
  N1: { required: [1] },
  N3: { required: [1] },
  N4: { required: [1] },
  HL: { required: [1, 3] },
  SBR: { required: [1] },
  CLM: { required: [1, 2, 5], numbers: [2] },
  SV1: { required: [1, 2, 4], numbers: [2, 4] },
  SV2: { required: [1], numbers: [3, 5] },
  SV3: { required: [1, 2], numbers: [2] },
  LX: { required: [1] },
  CLP: { required: [1, 2, 3, 4], numbers: [3, 4, 5] },
  SVC: { required: [1, 2, 3], numbers: [2, 3] },
  CAS: { required: [1, 2, 3], numbers: [3] },
  INS: { required: [1, 2] },
  HD: { required: [1] },
  EB: { required: [1] },
  TRN: { required: [1, 2] },
  STC: { required: [1] },
  REF: { required: [1, 2] },
  PER: { required: [1] },
  DTM: { required: [1, 2], dates: [2] },
  AMT: { required: [1, 2], numbers: [2] },
  QTY: { required: [1, 2], numbers: [2] },
  HI: { required: [1] },
  UM: { required: [1] },
  AAA: { required: [1] },
  PAT: {},
};

/** Date formats of DTP-02 / DMG-01 and how their value must look. */
function checkQualifiedDate(format: string, value: string): boolean {
  if (format === "D8") return value.length === 8 && isValidDate(value);
  if (format === "RD8") {
    const [a, b] = value.split("-");
    return a !== undefined && b !== undefined && a.length === 8 && b.length === 8 &&
      isValidDate(a) && isValidDate(b) && a <= b;
  }
  if (format === "DT") return /^\d{12}$/.test(value) && isValidDate(value.slice(0, 8));
  return true;
}

/** Problems with the elements of one segment, as IK4 codes with the 1-based element position. */
export function checkSegment(seg: X12Segment): { element: number; ik4: string; detail: string }[] {
  const out: { element: number; ik4: string; detail: string }[] = [];
  const e = (n: number) => seg.elements[n] ?? "";
  const rules = RULES[seg.id];
  if (rules) {
    for (const n of rules.required ?? []) {
      if (e(n) === "") out.push({ element: n, ik4: "1", detail: `${seg.id}${pad(n)} is required` });
    }
    for (const n of rules.dates ?? []) {
      if (e(n) !== "" && !(e(n).length === 8 && isValidDate(e(n)))) {
        out.push({ element: n, ik4: "8", detail: `${seg.id}${pad(n)} is not a date CCYYMMDD` });
      }
    }
    for (const n of rules.times ?? []) {
      if (e(n) !== "" && !isValidTime(e(n))) {
        out.push({ element: n, ik4: "9", detail: `${seg.id}${pad(n)} is not a time HHMM[SS]` });
      }
    }
    for (const n of rules.numbers ?? []) {
      if (e(n) !== "" && !/^-?(\d+\.?\d*|\.\d+)$/.test(e(n))) {
        out.push({ element: n, ik4: "6", detail: `${seg.id}${pad(n)} is not a decimal number` });
      }
    }
  }
  if (seg.id === "DTP") {
    for (const n of [1, 2, 3]) {
      if (e(n) === "") out.push({ element: n, ik4: "1", detail: `DTP${pad(n)} is required` });
    }
    if (e(2) !== "" && e(3) !== "" && !checkQualifiedDate(e(2), e(3))) {
      out.push({ element: 3, ik4: "8", detail: `DTP03 is not a valid ${e(2)} date` });
    }
  }
  if (seg.id === "DMG" && e(1) !== "" && !checkQualifiedDate(e(1), e(2))) {
    out.push({ element: 2, ik4: "8", detail: `DMG02 is not a valid ${e(1)} date` });
  }
  return out;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function loopOf(tree: X12LoopTree): Map<X12Segment, X12Loop> {
  const map = new Map<X12Segment, X12Loop>();
  const walk = (l: X12Loop) => {
    for (const s of l.segments) map.set(s, l);
    l.loops.forEach(walk);
  };
  walk(tree.root);
  return map;
}

/**
 * Every content problem of a transaction set: loop structure (IK3 codes 2, 3, 6) and elements
 * (IK3 code 8 with IK4 codes), each as a transaction-level issue with IK5 code 5. Envelope issues
 * (in `tx.issues`) are not repeated.
 */
export function validateTransaction(tx: X12Transaction, tree = buildLoops(tx)): X12Issue[] {
  const issues = [...tree.issues, ...missingRequired(tree)];
  const loops = loopOf(tree);
  tx.segments.forEach((seg, i) => {
    if (seg.id === "ST" || seg.id === "SE") return;
    for (const p of checkSegment(seg)) {
      const loop = loops.get(seg)?.id;
      issues.push(makeIssue({
        code: "BAD_ELEMENT",
        level: "transaction",
        seg,
        element: p.element,
        detail: p.detail,
        ik3: "8",
        ik4: p.ik4,
        ik5: "5",
        value: seg.elements[p.element] ?? "",
        loop: loop === "header" ? undefined : loop,
        positionInSet: i + 1,
      }));
    }
  });
  return issues.sort((a, b) => (a.positionInSet ?? 0) - (b.positionInSet ?? 0));
}
