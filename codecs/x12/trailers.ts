/**
 * The IEA, GE and SE trailers (see `envelope.ts`): each one's count (of functional groups, of
 * transaction sets, of segments) and control number checked against what its envelope holds
 * and its header says (`COUNT_MISMATCH`, `CONTROL_NUMBER_MISMATCH`, with the TA1, AK9 or IK5
 * code that answers it). The reader sets the trailer and closes the envelope.
 * @module
 */

import type { X12Group, X12Interchange, X12Transaction } from "./envelope_types.ts";
import { makeIssue } from "./issue.ts";
import { element, type X12Segment } from "./segment.ts";

/** Checks `seg` (an IEA) against interchange `ic`: problems go to `ic.issues`. */
export function checkInterchangeTrailer(seg: X12Segment, ic: X12Interchange): void {
  const count = element(seg, 1);
  // Digits only, as GE01 and SE01: `Number` alone took "", "1e0", "0x1" or " 1" for 1.
  if (!/^\d+$/.test(count) || Number(count) !== ic.groups.length) {
    ic.issues.push(makeIssue({
      code: "COUNT_MISMATCH",
      level: "interchange",
      seg,
      element: 1,
      detail: `IEA01 says ${count} functional groups, the interchange has ${ic.groups.length}`,
      ta1: "021",
      value: count,
    }));
  }
  if (element(seg, 2) !== ic.controlNumber) {
    ic.issues.push(makeIssue({
      code: "CONTROL_NUMBER_MISMATCH",
      level: "interchange",
      seg,
      element: 2,
      detail: `IEA02 ${element(seg, 2)} differs from ISA13 ${ic.controlNumber}`,
      ta1: "001",
      value: element(seg, 2),
    }));
  }
}

/** Checks `seg` (a GE) against functional group `gs`: problems go to `gs.issues`. */
export function checkGroupTrailer(seg: X12Segment, gs: X12Group): void {
  const count = element(seg, 1);
  if (Number(count) !== gs.transactionCount || !/^\d+$/.test(count)) {
    gs.issues.push(makeIssue({
      code: "COUNT_MISMATCH",
      level: "group",
      seg,
      element: 1,
      detail: `GE01 says ${count} transaction sets, the group has ${gs.transactionCount}`,
      ak9: "5",
      value: count,
    }));
  }
  if (element(seg, 2) !== gs.controlNumber) {
    gs.issues.push(makeIssue({
      code: "CONTROL_NUMBER_MISMATCH",
      level: "group",
      seg,
      element: 2,
      detail: `GE02 ${element(seg, 2)} differs from GS06 ${gs.controlNumber}`,
      ak9: "4",
      value: element(seg, 2),
    }));
  }
}

/**
 * Checks `seg` (an SE, already the last of `tx.segments`) against transaction set `tx`: problems
 * go to `tx.issues`.
 */
export function checkTransactionTrailer(seg: X12Segment, tx: X12Transaction): void {
  const count = element(seg, 1);
  const pos = tx.segments.length;
  if (Number(count) !== tx.segments.length || !/^\d+$/.test(count)) {
    tx.issues.push(makeIssue({
      code: "COUNT_MISMATCH",
      level: "transaction",
      seg,
      element: 1,
      detail: `SE01 says ${count} segments, the transaction set has ${tx.segments.length}`,
      ik5: "4",
      value: count,
      positionInSet: pos,
    }));
  }
  if (element(seg, 2) !== tx.controlNumber) {
    tx.issues.push(makeIssue({
      code: "CONTROL_NUMBER_MISMATCH",
      level: "transaction",
      seg,
      element: 2,
      detail: `SE02 ${element(seg, 2)} differs from ST02 ${tx.controlNumber}`,
      ik5: "3",
      value: element(seg, 2),
      positionInSet: pos,
    }));
  }
}
