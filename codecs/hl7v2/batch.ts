/**
 * Splitting HL7 batch files into messages: FHS/BHS/BTS/FTS envelopes (batches nested in a file)
 * as well as files of bare concatenated messages. Problems with the envelope are reported as
 * warnings, never thrown: the messages themselves are what matters.
 *
 * @module
 */

/** A problem found in the envelope of a batch file. */
export interface Hl7BatchWarning {
  /** Machine-readable reason. */
  readonly code:
    | "COUNT_MISMATCH"
    | "MISSING_TRAILER"
    | "UNEXPECTED_TRAILER"
    | "UNEXPECTED_HEADER"
    | "ORPHAN_SEGMENT";
  /** Human-readable description naming the line. */
  readonly message: string;
  /** 1-based line of the segment concerned. */
  readonly line: number;
}

/** One BHS...BTS batch (or the implicit batch of messages outside any BHS). */
export interface Hl7BatchInfo {
  /** The BHS segment text, undefined for messages outside any BHS. */
  readonly header?: string;
  /** The BTS segment text, if present. */
  readonly trailer?: string;
  /** Index in {@link Hl7Batch.messages} of the batch's first message. */
  readonly firstMessage: number;
  /** Number of messages found in the batch. */
  readonly messageCount: number;
  /** BTS-1 (batch message count) if given and numeric. */
  readonly declaredCount?: number;
}

/** Where a message is in the input of {@link splitBatch}: `[start, end)` in UTF-16 code units. */
export interface Hl7Span {
  readonly start: number;
  readonly end: number;
}

/** Result of {@link splitBatch}. */
export interface Hl7Batch {
  /** The messages, each the exact text from its MSH to the end of its last segment. */
  readonly messages: string[];
  /** 1-based line of each message's MSH, parallel to `messages`. */
  readonly lines: number[];
  /**
   * Where each message is in the input, parallel to `messages`: `messages[i]` is
   * `text.slice(spans[i].start, spans[i].end)`. For text read one byte per character
   * (`latin1Decode`) these are byte offsets, so messages can be cut from the bytes themselves.
   */
  readonly spans: Hl7Span[];
  /** The FHS segment text, if the file has one. */
  readonly fileHeader?: string;
  /** The FTS segment text, if the file has one. */
  readonly fileTrailer?: string;
  /** FTS-1 (file batch count) if given and numeric. */
  readonly declaredBatchCount?: number;
  /** The batches in order (messages outside any BHS form batches without header). */
  readonly batches: Hl7BatchInfo[];
  /** Envelope problems: counts that do not match, missing trailers, stray segments. */
  readonly warnings: Hl7BatchWarning[];
}

/** One white space character, as `trim` sees it (the MLLP start block 0x0B is one). */
const SPACE = /\s/;

/** How many characters at the start of a line are white space or MLLP framing bytes. */
function leadingFraming(line: string): number {
  let i = 0;
  while (i < line.length && (line[i] === "\x1c" || SPACE.test(line[i]!))) i++;
  return i;
}

/**
 * How many characters at the end of a line are an MLLP end block (0x1C) and the white space
 * around it; 0 when the line does not end so (a segment's own trailing spaces are content).
 */
function trailingFraming(line: string): number {
  if (line.indexOf("\x1c") === -1) return 0;
  let i = line.length, endBlock = false;
  for (; i > 0; i--) {
    const c = line[i - 1]!;
    if (c === "\x1c") endBlock = true;
    else if (!SPACE.test(c)) break;
  }
  return endBlock ? line.length - i : 0;
}

/**
 * The length of the byte order mark `src` starts with: U+FEFF in decoded text, or the three
 * characters `ï»¿` of a UTF-8 BOM in text read one byte per character; else 0.
 */
function bomLength(src: string): number {
  if (src.charCodeAt(0) === 0xfeff) return 1;
  return src.startsWith("\u00ef\u00bb\u00bf") ? 3 : 0;
}

interface OpenBatch {
  header?: string;
  firstMessage: number;
  line: number;
}

function count(segment: string): number | undefined {
  const fs = segment[3];
  if (fs === undefined) return undefined;
  const v = segment.split(fs)[1]?.trim();
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Splits a batch file or a run of concatenated messages. Lines may end with CR, LF or CRLF;
 * blank and whitespace-only lines and trailing whitespace between messages are skipped. A message
 * starts at each line beginning with `MSH` and runs to the last non-blank segment before the next
 * MSH or envelope segment. BTS-1 and FTS-1 counts are checked and a mismatch is a warning.
 */
export function splitBatch(text: string): Hl7Batch {
  const src = typeof text === "string" ? text : "";
  const messages: string[] = [];
  const lines: number[] = [];
  const spans: Hl7Span[] = [];
  const batches: Hl7BatchInfo[] = [];
  const warnings: Hl7BatchWarning[] = [];
  let fileHeader: string | undefined;
  let fileTrailer: string | undefined;
  let declaredBatchCount: number | undefined;
  let batch: OpenBatch | undefined;
  let msgStart = -1;
  let msgEnd = -1;
  let msgLine = 0;

  const endMessage = () => {
    if (msgStart !== -1) {
      messages.push(src.slice(msgStart, msgEnd));
      lines.push(msgLine);
      spans.push({ start: msgStart, end: msgEnd });
      msgStart = -1;
    }
  };
  const endBatch = (trailer: string | undefined, line: number) => {
    endMessage();
    const b = batch ?? { firstMessage: messages.length, line };
    const messageCount = messages.length - b.firstMessage;
    if (b.header === undefined && trailer === undefined && messageCount === 0) {
      batch = undefined;
      return;
    }
    const declaredCount = trailer === undefined ? undefined : count(trailer);
    if (declaredCount !== undefined && declaredCount !== messageCount) {
      warnings.push({
        code: "COUNT_MISMATCH",
        message: `BTS-1 on line ${line} says ${declaredCount} message(s), found ${messageCount}`,
        line,
      });
    }
    batches.push({
      ...(b.header !== undefined ? { header: b.header } : {}),
      ...(trailer !== undefined ? { trailer } : {}),
      firstMessage: b.firstMessage,
      messageCount,
      ...(declaredCount !== undefined ? { declaredCount } : {}),
    });
    batch = undefined;
  };

  let pos = bomLength(src);
  let line = 1;
  while (pos < src.length) {
    let end = pos;
    while (end < src.length && src.charCodeAt(end) !== 13 && src.charCodeAt(end) !== 10) end++;
    const seg = src.slice(pos, end);
    // MLLP's framing bytes around a message (a capture of MLLP traffic: VT before MSH, FS and CR
    // after the last segment) are not part of it.
    const lead = leadingFraming(seg);
    const name = seg.slice(lead, lead + 3);
    const blank = lead === seg.length;
    if (!blank) {
      const here = line;
      if (name === "MSH") {
        endMessage();
        if (batch === undefined) batch = { firstMessage: messages.length, line: here };
        msgStart = pos + lead;
        msgEnd = end - trailingFraming(seg);
        msgLine = here;
      } else if (name === "FHS") {
        if (fileHeader !== undefined || messages.length > 0 || msgStart !== -1) {
          warnings.push({ code: "UNEXPECTED_HEADER", message: `FHS on line ${here}`, line: here });
        }
        endMessage();
        fileHeader ??= seg;
      } else if (name === "BHS") {
        if (batch !== undefined) {
          warnings.push({
            code: "MISSING_TRAILER",
            message:
              `BHS on line ${here} opens a batch before the one from line ${batch.line} ended`,
            line: here,
          });
          endBatch(undefined, here);
        }
        endMessage();
        batch = { header: seg, firstMessage: messages.length, line: here };
      } else if (name === "BTS") {
        if (batch === undefined) {
          warnings.push({
            code: "UNEXPECTED_TRAILER",
            message: `BTS on line ${here} without a batch`,
            line: here,
          });
        }
        endBatch(seg, here);
      } else if (name === "FTS") {
        if (batch !== undefined) {
          if (batch.header !== undefined) {
            warnings.push({
              code: "MISSING_TRAILER",
              message: `FTS on line ${here}: the batch from line ${batch.line} has no BTS`,
              line: here,
            });
          }
          endBatch(undefined, here);
        }
        fileTrailer = seg;
        declaredBatchCount = count(seg);
        if (declaredBatchCount !== undefined && declaredBatchCount !== batches.length) {
          warnings.push({
            code: "COUNT_MISMATCH",
            message:
              `FTS-1 on line ${here} says ${declaredBatchCount} batch(es), found ${batches.length}`,
            line: here,
          });
        }
      } else if (msgStart !== -1) {
        msgEnd = end - trailingFraming(seg);
      } else {
        warnings.push({
          code: "ORPHAN_SEGMENT",
          message: `Segment ${JSON.stringify(name)} on line ${here} is outside any message`,
          line: here,
        });
      }
    }
    // One line ends at CR, LF or CRLF.
    pos = end;
    if (src.charCodeAt(pos) === 13) pos++;
    if (src.charCodeAt(pos) === 10 && (pos === end || src.charCodeAt(pos - 1) === 13)) pos++;
    if (end < src.length) line++;
  }
  if (batch !== undefined) {
    if (batch.header !== undefined) {
      warnings.push({
        code: "MISSING_TRAILER",
        message: `The batch from line ${batch.line} has no BTS`,
        line: batch.line,
      });
    }
    endBatch(undefined, line);
  } else endMessage();
  if (fileHeader !== undefined && fileTrailer === undefined) {
    warnings.push({ code: "MISSING_TRAILER", message: "The file has FHS but no FTS", line });
  }
  return {
    messages,
    lines,
    spans,
    ...(fileHeader !== undefined ? { fileHeader } : {}),
    ...(fileTrailer !== undefined ? { fileTrailer } : {}),
    ...(declaredBatchCount !== undefined ? { declaredBatchCount } : {}),
    batches,
    warnings,
  };
}
