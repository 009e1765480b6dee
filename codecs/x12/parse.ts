/**
 * Parsing a whole X12 text: segments, then the envelope tree (interchanges → functional groups →
 * transaction sets), with every segment kept in order for a byte-exact {@link encodeX12}.
 *
 * @module
 */

import { EnvelopeReader, type X12Interchange } from "./envelope.ts";
import { X12EnvelopeError, type X12Issue } from "./errors.ts";
import { encodeSegment, type X12Segment } from "./segment.ts";
import { tokenizeX12 } from "./tokenize.ts";

/** A parsed X12 file. */
export interface X12Document {
  /** The interchanges, in order. */
  readonly interchanges: X12Interchange[];
  /** Every segment of the file in order (envelopes included). */
  readonly segments: X12Segment[];
  /** Whitespace or BOM before the first ISA. */
  readonly leading: string;
  /** Whitespace after the last segment. */
  readonly trailing: string;
  /** Every envelope issue found, in input order (empty for a valid file). */
  readonly issues: X12Issue[];
}

/** Options of {@link parseX12}. */
export interface ParseX12Options {
  /**
   * Throw an {@link X12EnvelopeError} on the first envelope issue (default `true`). With `false`
   * the document is returned with its issues, e.g. to answer them with a TA1 or a 999.
   */
  readonly strict?: boolean;
}

/**
 * Parses an X12 text holding one or more interchanges. Separators are read from each ISA;
 * line breaks after segment terminators are accepted and kept.
 *
 * @throws {X12ParseError} when the text cannot be read (`EMPTY`, `NO_ISA`, `ISA_TOO_SHORT`,
 * `BAD_SEPARATORS`, `INVALID_SEGMENT_ID`), with segment index and offset.
 * @throws {X12EnvelopeError} in strict mode, for the first envelope issue (counts, control
 * numbers, missing trailers, bad ISA/GS/ST elements).
 */
export function parseX12(text: string, options: ParseX12Options = {}): X12Document {
  const { segments, leading, trailing } = tokenizeX12(text);
  const interchanges: X12Interchange[] = [];
  const orphans: X12Issue[] = [];
  const reader = new EnvelopeReader({
    interchange: (ic) => interchanges.push(ic),
    orphan: (issue) => orphans.push(issue),
  });
  for (const seg of segments) reader.feed(seg);
  reader.end();
  const issues = collectIssues(interchanges, orphans);
  if ((options.strict ?? true) && issues.length > 0) throw new X12EnvelopeError(issues);
  return { interchanges, segments, leading, trailing, issues };
}

/** Every issue of the interchanges (and those outside any), sorted by position. */
export function collectIssues(
  interchanges: readonly X12Interchange[],
  orphans: readonly X12Issue[] = [],
): X12Issue[] {
  const all: X12Issue[] = [...orphans];
  for (const ic of interchanges) {
    all.push(...ic.issues);
    for (const g of ic.groups) {
      all.push(...g.issues);
      for (const tx of g.transactions) all.push(...tx.issues);
    }
  }
  return all.sort((a, b) => a.offset - b.offset);
}

/** Writes a document back: byte for byte the parsed text, unless segments were edited. */
export function encodeX12(doc: X12Document): string {
  const parts: string[] = [doc.leading];
  for (const seg of doc.segments) parts.push(encodeSegment(seg));
  parts.push(doc.trailing);
  return parts.join("");
}
