/**
 * How the envelope reader and the validators build an {@link X12Issue}: its code and level, the
 * TA1 / AK9 / IK5 / IK3 / IK4 codes that answer it, and its location (segment, offset,
 * element) written into its message.
 * @module
 */

import {
  describeLocation,
  type X12Issue,
  type X12IssueCode,
  type X12IssueLevel,
} from "./errors.ts";
import type { X12Segment } from "./segment.ts";

/** What {@link makeIssue} builds an issue from. */
export interface IssueInit {
  /** What is wrong. */
  readonly code: X12IssueCode;
  /** At which envelope level it is answered. */
  readonly level: X12IssueLevel;
  /** Where: the segment, or its index and offset. */
  readonly seg: X12Segment | { index: number; offset: number; id?: string };
  /** The message, before its location is added. */
  readonly detail: string;
  /** The element's position in the segment. */
  readonly element?: number;
  /** TA1 note code (TA105) answering it. */
  readonly ta1?: string;
  /** AK9 code answering it. */
  readonly ak9?: string;
  /** IK5 code answering it. */
  readonly ik5?: string;
  /** IK3 code answering it. */
  readonly ik3?: string;
  /** IK4 code answering it. */
  readonly ik4?: string;
  /** The element's value. */
  readonly value?: string;
  /** The loop it was found in. */
  readonly loop?: string;
  /** The segment's position in its transaction set (1 for ST). */
  readonly positionInSet?: number;
}

/** Builds an issue with its location and message. */
export function makeIssue(init: IssueInit): X12Issue {
  const where = {
    segmentIndex: init.seg.index,
    offset: init.seg.offset,
    segmentId: init.seg.id,
    element: init.element,
  };
  const issue: Record<string, unknown> = {
    code: init.code,
    level: init.level,
    segmentIndex: where.segmentIndex,
    offset: where.offset,
    message: describeLocation(init.detail, where),
  };
  for (
    const k of [
      "ta1",
      "ak9",
      "ik5",
      "ik3",
      "ik4",
      "value",
      "loop",
      "positionInSet",
      "element",
    ] as const
  ) {
    if (init[k] !== undefined) issue[k] = init[k];
  }
  if (init.seg.id !== undefined) issue.segmentId = init.seg.id;
  return issue as unknown as X12Issue;
}
