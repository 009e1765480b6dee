/**
 * Splitting an X12 file into one interchange per transaction set, the way an HL7 batch is split
 * into messages: each piece keeps the original ISA, GS and ST ... SE text byte for byte, and gets
 * a GE and an IEA counting its one set (same control numbers), so every piece is a valid
 * interchange a receiver can read on its own.
 *
 * @module
 */

import type { X12Group, X12Interchange, X12Transaction } from "./envelope.ts";
import type { X12Document } from "./parse.ts";
import { encodeSegment } from "./segment.ts";

/** One transaction set in an interchange of its own. */
export interface X12Piece {
  /** The interchange text: ISA, GS, the set's segments, GE (1), IEA (1). */
  readonly text: string;
  readonly transaction: X12Transaction;
  readonly group: X12Group;
  readonly interchange: X12Interchange;
}

/**
 * Whether {@link splitX12} can split `doc`: no interchange or group problem (a TA1 or AK9 code),
 * since those answer for the whole envelope and must not be hidden by re-wrapping.
 */
export function canSplitX12(doc: X12Document): boolean {
  if (doc.interchanges.length === 0) return false;
  return doc.interchanges.every((ic) =>
    !ic.issues.some((i) => i.ta1 !== undefined) &&
    ic.groups.every((g) => !g.issues.some((i) => i.ak9 !== undefined))
  );
}

/** Every transaction set of `doc` in an interchange of its own, in file order. */
export function splitX12(doc: X12Document): X12Piece[] {
  const out: X12Piece[] = [];
  for (const interchange of doc.interchanges) {
    const el = interchange.separators.element;
    const end = interchange.header.end || interchange.separators.segment;
    for (const group of interchange.groups) {
      for (const transaction of group.transactions) {
        const parts = [encodeSegment(interchange.header), encodeSegment(group.header)];
        for (const seg of transaction.segments) parts.push(encodeSegment(seg));
        const last = transaction.segments[transaction.segments.length - 1];
        // A set cut off at the end of the file has no terminator after its last segment.
        if (last && last.end === "") parts.push(end);
        parts.push(["GE", "1", group.controlNumber].join(el) + end);
        parts.push(["IEA", "1", interchange.controlNumber].join(el) + end);
        out.push({ text: parts.join(""), transaction, group, interchange });
      }
    }
  }
  return out;
}

/** Whether bytes start (after whitespace or a BOM) with an ISA segment. */
export function looksLikeX12(bytes: Uint8Array): boolean {
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0d || bytes[i] === 0x0a)) i++;
  return bytes[i] === 0x49 && bytes[i + 1] === 0x53 && bytes[i + 2] === 0x41; // "ISA"
}
