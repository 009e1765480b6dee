/**
 * The GS and ST headers (see `envelope.ts`): a functional group or a transaction set opened from
 * its header segment, its elements checked (`BAD_HEADER_ELEMENT` with the AK9 or IK5 code that
 * answers it; `DUPLICATE_CONTROL_NUMBER` for an ST02 used twice in one group).
 * @module
 */

import type { X12IssueCode } from "./errors.ts";
import { isDigits, isValidDate } from "./element_values.ts";
import type { X12Group, X12Transaction } from "./envelope_types.ts";
import { makeIssue } from "./issue.ts";
import { element, type X12Segment } from "./segment.ts";

/** The functional group `seg` (a GS) opens, empty, its header's problems among its issues. */
export function openGroup(seg: X12Segment): X12Group {
  const e = (n: number) => element(seg, n);
  const gs: X12Group = {
    header: seg,
    functionalId: e(1),
    sender: e(2),
    receiver: e(3),
    controlNumber: e(6),
    version: e(8),
    transactions: [],
    transactionCount: 0,
    acceptedCount: 0,
    trailer: undefined,
    issues: [],
  };
  const bad = (n: number, ak9: string, detail: string) =>
    gs.issues.push(makeIssue({
      code: "BAD_HEADER_ELEMENT",
      level: "group",
      seg,
      element: n,
      detail,
      ak9,
      value: e(n),
    }));
  if (!/^[A-Z]{2}$/.test(e(1))) bad(1, "1", "GS01 is not a functional identifier code");
  if (!isDigits(e(6), 1, 9)) bad(6, "6", "GS06 is not a 1-9 digit control number");
  if (e(8) === "") bad(8, "2", "GS08 version is empty");
  if (!isValidDate(e(4)) || e(4).length !== 8) bad(4, "1", "GS04 is not a date CCYYMMDD");
  return gs;
}

/**
 * The transaction set `seg` (an ST) opens in group `gs`, its header's problems among its issues.
 * `stIds`: the ST02 control numbers seen so far in `gs`; this one is added to them.
 */
export function openTransaction(
  seg: X12Segment,
  gs: X12Group,
  stIds: Set<string>,
): X12Transaction {
  const e = (n: number) => element(seg, n);
  const tx: X12Transaction = {
    setId: e(1),
    controlNumber: e(2),
    implementation: e(3) || gs.version,
    segments: [seg],
    trailer: undefined,
    issues: [],
  };
  const bad = (
    n: number,
    ik5: string,
    detail: string,
    code: X12IssueCode = "BAD_HEADER_ELEMENT",
  ) =>
    tx.issues.push(makeIssue({
      code,
      level: "transaction",
      seg,
      element: n,
      detail,
      ik5,
      value: e(n),
      positionInSet: 1,
    }));
  if (!isDigits(e(1), 3, 3)) bad(1, "6", "ST01 is not a 3-digit transaction set identifier");
  if (!/^[A-Za-z0-9]{4,9}$/.test(e(2))) bad(2, "7", "ST02 is not a 4-9 character control number");
  else if (stIds.has(e(2))) {
    bad(
      2,
      "23",
      `ST02 ${e(2)} is used twice in group ${gs.controlNumber}`,
      "DUPLICATE_CONTROL_NUMBER",
    );
  }
  stIds.add(e(2));
  if (e(3) !== "" && gs.version !== "" && e(3) !== gs.version) {
    bad(3, "19", `ST03 ${e(3)} differs from GS08 ${gs.version}`);
  }
  return tx;
}
