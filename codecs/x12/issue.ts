/**
 * How the envelope reader and the validators build an {@link X12Issue}: its code and level, the
 * TA1 / AK9 / IK5 / IK3 / IK4 codes that answer it, and its location (segment, offset,
 * element) written into its message.
 * @module
 */

import { describeLocation, type X12Issue } from "./errors.ts";
import type { X12Segment } from "./segment.ts";

/** The fields of an {@link X12Issue} that {@link makeIssue} copies as given. */
const COPIED = [
  "ta1",
  "ak9",
  "ik5",
  "ik3",
  "ik4",
  "value",
  "loop",
  "positionInSet",
  "element",
] as const;

/**
 * What {@link makeIssue} builds an issue from: the issue's code, level and answering codes as
 * {@link X12Issue} has them, where it is, and its message before the location is added.
 */
export type IssueInit =
  & Pick<X12Issue, "code" | "level" | (typeof COPIED)[number]>
  & {
    /** Where: the segment, or its index and offset. */
    readonly seg: X12Segment | { index: number; offset: number; id?: string };
    /** The message, before its location is added. */
    readonly detail: string;
  };

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
  for (const k of COPIED) if (init[k] !== undefined) issue[k] = init[k];
  if (init.seg.id !== undefined) issue.segmentId = init.seg.id;
  return issue as unknown as X12Issue;
}
