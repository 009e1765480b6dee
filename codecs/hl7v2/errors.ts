/**
 * Typed errors of the HL7 v2 codec. Every failure the codec reports is an {@link Hl7Error}
 * subclass carrying a machine-readable `code`, so callers can branch without parsing messages.
 *
 * @module
 */

/** Why a text could not be parsed as one HL7 v2 message. */
export type Hl7ParseErrorCode =
  /** The input is empty, only whitespace, or not a string. */
  | "EMPTY"
  /** The first segment is not `MSH` (a batch header `FHS`/`BHS` also lands here). */
  | "NO_MSH"
  /** The MSH segment ends before its delimiters (MSH-1 and MSH-2) can be read. */
  | "MSH_TOO_SHORT"
  /** MSH-2 has the wrong length or uses a letter, digit or space as a delimiter. */
  | "BAD_DELIMITERS"
  /** The same character is used for two delimiters. */
  | "DUPLICATE_DELIMITER"
  /** A delimiter is a control character (CR, LF, TAB, NUL, DEL, C1...). */
  | "NON_PRINTABLE_DELIMITER"
  /** The MSH segment stops before the required fields (MSH-9 to MSH-12 by default). */
  | "TRUNCATED"
  /** A segment does not start with a three-character upper-case segment ID. */
  | "INVALID_SEGMENT_NAME"
  /** A second `MSH`, or a batch envelope segment (`FHS` `BHS` `BTS` `FTS`), inside one message. */
  | "UNEXPECTED_SEGMENT";

/** Why a path string was rejected or could not be applied. */
export type Hl7PathErrorCode =
  /** The path does not follow the grammar `SEG[segRep]-field[fieldRep].component.subcomponent`. */
  | "BAD_PATH"
  /** The path addresses MSH-1 or MSH-2, which are the delimiters and cannot be edited. */
  | "READ_ONLY"
  /** A write addresses a segment occurrence that neither exists nor directly follows the last. */
  | "NO_SUCH_SEGMENT";

/** Why a value or segment handed to the codec was refused. */
export type Hl7ValueErrorCode =
  /** A raw value contains a delimiter of a higher level, or a segment terminator. */
  | "BAD_VALUE"
  /** A raw segment has no valid segment ID or contains CR/LF. */
  | "BAD_SEGMENT";

/** Why bytes could not be converted to or from text. */
export type Hl7CharsetErrorCode =
  /** The charset is neither an HL7 table 0211 name nor a WHATWG encoding label. */
  | "UNKNOWN_CHARSET"
  /** The charset is known but cannot be encoded to (stateful encodings such as ISO-2022-JP). */
  | "UNSUPPORTED_CHARSET"
  /** A character of the text has no representation in the target charset. */
  | "UNMAPPABLE_CHARACTER";

/** Every code an {@link Hl7Error} can carry. */
export type Hl7ErrorCode =
  | Hl7ParseErrorCode
  | Hl7PathErrorCode
  | Hl7ValueErrorCode
  | Hl7CharsetErrorCode;

/** Base class of all codec errors; `code` says what went wrong. */
export class Hl7Error extends Error {
  /** Machine-readable reason. */
  readonly code: Hl7ErrorCode;

  /** Creates an error with a code and a human-readable message. */
  constructor(code: Hl7ErrorCode, message: string) {
    super(message);
    this.name = "Hl7Error";
    this.code = code;
  }
}

/** Where in the input a parse error was found. */
export interface Hl7ErrorLocation {
  /** 0-based index of the segment (counting only non-blank lines). */
  readonly segmentIndex: number;
  /** 1-based line number (CR, LF and CRLF each end one line). */
  readonly line: number;
  /** 0-based character offset into the input text. */
  readonly offset: number;
}

/** The input is not a well-formed HL7 v2 message; the message says what and where. */
export class Hl7ParseError extends Hl7Error {
  /** Machine-readable reason. */
  declare readonly code: Hl7ParseErrorCode;
  /** 0-based index of the offending segment. */
  readonly segmentIndex: number;
  /** 1-based line of the offending segment. */
  readonly line: number;
  /** 0-based character offset of the problem in the input. */
  readonly offset: number;

  /** Creates a parse error; `detail` is prefixed to a "segment N (line L), offset O" suffix. */
  constructor(code: Hl7ParseErrorCode, detail: string, where: Hl7ErrorLocation) {
    super(
      code,
      `${detail} (segment ${where.segmentIndex + 1}, line ${where.line}, offset ${where.offset})`,
    );
    this.name = "Hl7ParseError";
    this.segmentIndex = where.segmentIndex;
    this.line = where.line;
    this.offset = where.offset;
  }
}

/** A path string is malformed or cannot be used for the requested operation. */
export class Hl7PathError extends Hl7Error {
  /** Machine-readable reason. */
  declare readonly code: Hl7PathErrorCode;
  /** The offending path, verbatim. */
  readonly path: string;

  /** Creates a path error naming the path. */
  constructor(code: Hl7PathErrorCode, path: string, detail: string) {
    super(code, `Invalid HL7 path ${JSON.stringify(path)}: ${detail}`);
    this.name = "Hl7PathError";
    this.path = path;
  }
}

/** A value or segment handed to an editing method was refused. */
export class Hl7ValueError extends Hl7Error {
  /** Machine-readable reason. */
  declare readonly code: Hl7ValueErrorCode;

  /** Creates a value error. */
  constructor(code: Hl7ValueErrorCode, message: string) {
    super(code, message);
    this.name = "Hl7ValueError";
  }
}

/** Bytes could not be decoded, or text could not be encoded, in the requested charset. */
export class Hl7CharsetError extends Hl7Error {
  /** Machine-readable reason. */
  declare readonly code: Hl7CharsetErrorCode;
  /** The charset name as given by the caller or MSH-18. */
  readonly charset: string;

  /** Creates a charset error. */
  constructor(code: Hl7CharsetErrorCode, charset: string, message: string) {
    super(code, message);
    this.name = "Hl7CharsetError";
    this.charset = charset;
  }
}
