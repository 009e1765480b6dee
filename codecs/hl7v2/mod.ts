/**
 * HL7 v2 codec: lazy parsing, path reads and edits with escaping, byte-exact re-encoding,
 * MSH-18 charsets, ACK/NAK building and batch splitting. Pure: no I/O, no permissions.
 *
 * ```ts
 * const msg = parseHl7(text);
 * msg.get("PID-5.1"); // family name, escape sequences decoded
 * msg.set("PID-5.2", "JOSÉ ^ JR").encode();
 * const ack = buildAck(msg, { code: "AA" }).encode();
 * ```
 *
 * @module
 */

export {
  type AckCode,
  type AckError,
  type AckOptions,
  buildAck,
  buildAckText,
  buildNakForUnparsable,
  type ErrorSeverity,
  formatHl7Timestamp,
  HL70357,
  type NakOptions,
  newControlId,
  parseErrorCondition,
} from "./ack.ts";
export { type AckScan, type AckVerdict, readAck, readControlId, scanAck } from "./ack_verdict.ts";
export { type Hl7Batch, type Hl7BatchInfo, type Hl7BatchWarning, splitBatch } from "./batch.ts";
export {
  charsetLabel,
  type CharsetSource,
  type DecodedHl7,
  decodeHl7,
  decodeHl7Bytes,
  type DecodeOptions,
  encodeHl7,
  type EncodeOptions,
  readMsh18,
} from "./charset.ts";
export {
  checkDelimiters,
  DEFAULT_DELIMITERS,
  type DelimiterCheck,
  type DelimiterProblem,
  encodingCharacters,
  type Hl7Delimiters,
} from "./delimiters.ts";
export {
  encodeField,
  encodeSegment,
  type EncodeSegmentOptions,
  type Hl7ComponentValue,
  type Hl7FieldValue,
  type Hl7Raw,
  type Hl7RepetitionValue,
} from "./encode.ts";
export {
  Hl7CharsetError,
  type Hl7CharsetErrorCode,
  Hl7Error,
  type Hl7ErrorCode,
  type Hl7ErrorLocation,
  Hl7ParseError,
  type Hl7ParseErrorCode,
  Hl7PathError,
  type Hl7PathErrorCode,
  Hl7ValueError,
  type Hl7ValueErrorCode,
} from "./errors.ts";
export { escapeHl7, type EscapeOptions, unescapeHl7 } from "./escape.ts";
export {
  HL7_NULL,
  Hl7Message,
  type Hl7MessageInit,
  type ReadOptions,
  type WriteOptions,
} from "./message.ts";
export {
  applyMsh18Edit,
  type Hl7Source,
  type Msh18Edit,
  type Msh18Field,
  msh18Field,
  UTF8_LABEL,
  utf8LabelEdit,
  type Utf8LabelFacts,
  utf8LabelNeeded,
  withUtf8Label,
} from "./msh18_rewrite.ts";
export type { SegmentStore } from "./segments.ts";
export { type Hl7ParseResult, parseHl7, type ParseOptions, tryParseHl7 } from "./parse.ts";
export { formatHl7Path, type Hl7Path, parseHl7Path } from "./path.ts";
export { hl7ResendDigest, sameHl7Message } from "./resend.ts";
