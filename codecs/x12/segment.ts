/**
 * The X12 segment: its elements as split by the interchange's element separator, and the exact
 * text that ended it (terminator plus any line break), so that encoding gives back the input.
 *
 * @module
 */

/** The four delimiters of an interchange, read from its ISA segment. */
export interface X12Separators {
  /** Data element separator: the character after `ISA`. */
  readonly element: string;
  /** Repetition separator (ISA11 from version 00501 on); `undefined` when ISA11 is a letter. */
  readonly repetition: string | undefined;
  /** Component element separator (ISA16). */
  readonly component: string;
  /** Segment terminator: the character after ISA16. */
  readonly segment: string;
}

/** The separators of the 005010 implementation guides' examples: `* ^ : ~`. */
export const DEFAULT_SEPARATORS: X12Separators = {
  element: "*",
  repetition: "^",
  component: ":",
  segment: "~",
};

/** One segment as read. `elements[0]` is the segment ID, so `elements[n]` is element n. */
export interface X12Segment {
  /** Segment ID (`ISA`, `NM1`...). */
  readonly id: string;
  /** The ID then every data element, raw (components and repetitions not split). */
  elements: string[];
  /** What followed the segment in the input: its terminator and any CR/LF ('' at a cut end). */
  end: string;
  /** The separators of the interchange the segment belongs to. */
  readonly separators: X12Separators;
  /** 0-based index of the segment in the input. */
  readonly index: number;
  /** 0-based character offset of the segment in the input. */
  readonly offset: number;
}

/** Element `n` (1-based) of a segment, '' when absent. */
export function element(seg: X12Segment, n: number): string {
  return seg.elements[n] ?? "";
}

/** Component `c` (1-based) of element `n`, '' when absent. */
export function component(seg: X12Segment, n: number, c: number): string {
  const value = seg.elements[n] ?? "";
  if (c === 1 && !value.includes(seg.separators.component)) return value;
  return value.split(seg.separators.component)[c - 1] ?? "";
}

/** The repetitions of element `n` (one item when there is no repetition separator). */
export function repetitions(seg: X12Segment, n: number): string[] {
  const value = seg.elements[n] ?? "";
  if (value === "") return [];
  const rep = seg.separators.repetition;
  return rep === undefined ? [value] : value.split(rep);
}

/** The segment's text exactly as it will be written: elements joined, then its `end`. */
export function encodeSegment(seg: X12Segment): string {
  return seg.elements.join(seg.separators.element) + seg.end;
}
