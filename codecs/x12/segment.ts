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

/**
 * One segment as read. `elements[0]` is the segment ID, so `elements[n]` is element n. The
 * elements are split from the raw text on first access only: most segments of a large file are
 * never read element by element, and splitting is the main cost of parsing.
 */
export class X12Segment {
  /** Segment ID (`ISA`, `NM1`...). */
  readonly id: string;
  /** What followed the segment in the input: its terminator and any CR/LF ('' at a cut end). */
  end: string;
  /** The separators of the interchange the segment belongs to. */
  readonly separators: X12Separators;
  /** 0-based index of the segment in the input. */
  readonly index: number;
  /** 0-based character offset of the segment in the input. */
  readonly offset: number;
  #raw: string | undefined;
  #elements: string[] | undefined;

  /** Creates a segment from its raw text (without terminator) or from its elements. */
  constructor(init: {
    id: string;
    raw?: string;
    elements?: string[];
    end: string;
    separators: X12Separators;
    index: number;
    offset: number;
  }) {
    this.id = init.id;
    this.end = init.end;
    this.separators = init.separators;
    this.index = init.index;
    this.offset = init.offset;
    this.#raw = init.raw;
    this.#elements = init.elements;
  }

  /** The ID then every data element, raw (components and repetitions not split). */
  get elements(): string[] {
    return this.#elements ??= (this.#raw ?? this.id).split(this.separators.element);
  }

  /** Replaces the elements (the segment is then written from them). */
  set elements(value: string[]) {
    this.#elements = value;
    this.#raw = undefined;
  }

  /** The segment's text without its terminator. */
  get text(): string {
    // Once elements were handed out they may have been edited in place: write from them.
    return this.#elements !== undefined
      ? this.#elements.join(this.separators.element)
      : this.#raw ?? this.id;
  }
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
  return seg.text + seg.end;
}
