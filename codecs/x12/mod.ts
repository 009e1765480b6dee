/**
 * ASC X12 005010 codec: separators from ISA, envelopes (ISA/IEA, GS/GE, ST/SE) with control
 * numbers and counts checked, byte-exact re-encoding, streaming over large files, loop trees of
 * the HIPAA transaction sets (270/271, 276/277, 277CA, 278, 834, 835, 837P/I/D) read by path, a
 * JSON form, and TA1 / 999 acknowledgments. Pure: no I/O, no permissions.
 *
 * ```ts
 * const doc = parseX12(text);
 * const tx = doc.interchanges[0].groups[0].transactions[0];
 * readX12(buildLoops(tx), "2010BA/NM1-09"); // subscriber ID
 * encodeX12(doc) === text; // true
 * const ack = buildAckInterchange(doc.interchanges[0], { interchangeControlNumber: 1 });
 * ```
 *
 * @module
 */

export {
  type Ack999Code,
  type Ack999Options,
  type AckInterchangeOptions,
  build999,
  buildAckInterchange,
  buildTa1Segment,
  type ContentErrorPolicy,
  type GroupVerdict,
  judgeGroup,
  type Ta1Code,
  ta1Status,
  type TransactionVerdict,
} from "./ack.ts";
export {
  type EnvelopeSink,
  type X12Group,
  type X12Interchange,
  type X12Transaction,
} from "./envelope.ts";
export {
  X12EnvelopeError,
  X12Error,
  type X12ErrorCode,
  type X12Issue,
  type X12IssueCode,
  type X12IssueLevel,
  type X12Location,
  X12ParseError,
  type X12ParseErrorCode,
  X12PathError,
} from "./errors.ts";
export { loopJson, segmentJson, transactionJson, type X12Json } from "./json.ts";
export {
  allLoops,
  buildLoops,
  missingRequired,
  type X12Loop,
  type X12LoopTree,
} from "./loops/build.ts";
export { findTransactionDef, TRANSACTION_DEFS } from "./loops/defs.ts";
export type { LoopDef, LoopTrigger, SegmentSlot, TransactionDef } from "./loops/schema.ts";
export {
  collectIssues,
  encodeX12,
  parseX12,
  type ParseX12Options,
  type X12Document,
} from "./parse.ts";
export { findSegments, parseX12Path, readAllX12, readX12, type X12Path } from "./path.ts";
export {
  component,
  DEFAULT_SEPARATORS,
  element,
  encodeSegment,
  repetitions,
  X12Segment,
  type X12Separators,
} from "./segment.ts";
export { canSplitX12, looksLikeX12, splitX12, type X12Piece } from "./split.ts";
export { streamX12, type StreamX12Options, type X12StreamItem } from "./stream.ts";
export { X12Tokenizer } from "./tokenize.ts";
export { checkSegment, validateTransaction } from "./validate.ts";

import type { X12Group, X12Interchange, X12Transaction } from "./envelope.ts";
import type { X12Document } from "./parse.ts";

/** Every transaction set of a document with its group and interchange, in order. */
export function* transactionsOf(
  doc: X12Document,
): Generator<{ transaction: X12Transaction; group: X12Group; interchange: X12Interchange }> {
  for (const interchange of doc.interchanges) {
    for (const group of interchange.groups) {
      for (const transaction of group.transactions) yield { transaction, group, interchange };
    }
  }
}
