/**
 * What the MLLP intake reads of a frame before it stores it: the text (decoded by MSH-18), the
 * parsed message, and the first MLLP control byte in the content, if any; or, for a frame that
 * cannot be parsed, the negative ACK that says why. A large frame is read on the planning thread
 * (see `plan_threads.ts`), which sends back only the MSH segment: everything the intake reads
 * of a message (sender, control id, ACK modes, type) is in it.
 * @module
 */

import {
  buildNakForUnparsable,
  type DecodedHl7,
  decodeHl7,
  type Hl7Message,
  type Hl7ParseErrorCode,
  parseErrorCondition,
  tryParseHl7,
} from "../../codecs/hl7v2/mod.ts";
import {
  ASCII_SAFE_CHARSETS,
  controlByteLocation,
  firstControlByte,
} from "../../codecs/hl7v2/control_byte.ts";

/** An MLLP start (0x0B) or end block (0x1C) byte in a frame's content. */
export interface ControlByte {
  /** Its offset in the payload (counted from 0 after the start block). */
  offset: number;
  /** The byte. */
  byte: number;
  /** Its HL7 path (`PID-5`), when the bytes tell it (see {@link controlByteLocation}). */
  location?: string;
}

/** A frame read: the message, or why it cannot be and its negative ACK. */
export type FrameRead =
  | {
    readonly ok: true;
    readonly message: Hl7Message;
    /** The decoded text (of the MSH segment alone when read on the planning thread). */
    readonly text: string;
    readonly control?: ControlByte;
    /**
     * The charset the message was read in (MSH-18, else the fallback), when replies to it are to
     * be written in it: any but UTF-8, ASCII and UTF-16 (answered in UTF-8).
     */
    readonly charset?: string;
  }
  | { readonly ok: false; readonly error: string; readonly nak: Uint8Array };

/** A {@link FrameRead} between threads: the MSH segment's text in place of the message. */
export type PortableRead =
  | {
    readonly ok: true;
    readonly header: string;
    readonly control?: ControlByte;
    readonly charset?: string;
  }
  | { readonly ok: false; readonly error: string; readonly nak: Uint8Array };

/**
 * The charset replies to a message read in `charset` are written in, or undefined for UTF-8: a
 * sender that compares its MSH-10 with MSA-2 byte for byte, or reads the reply by the MSH-18 it
 * copies, gets bytes in its own charset. UTF-16 replies would not be what an MLLP peer expects.
 */
function replyCharset(charset: string): string | undefined {
  return charset === "utf-8" || charset === "ascii" || charset.startsWith("utf-16")
    ? undefined
    : charset;
}

const encoder = new TextEncoder();

/** Reads a frame's payload; `fallbackCharset` decodes text MSH-18 does not name. */
export function readFrame(payload: Uint8Array, fallbackCharset: string | undefined): FrameRead {
  const decoded = decodeHl7(payload, fallbackCharset ? { fallbackCharset } : {});
  const text = decoded.text;
  const parsed = tryParseHl7(text);
  if (!parsed.ok) {
    const error = parsed.error.message;
    return {
      ok: false,
      error,
      nak: nakForUnparsable(`cannot read the message: ${error}`, text, parsed.error.code),
    };
  }
  const bad = controlByteAt(payload, decoded);
  const reply = replyCharset(decoded.charset);
  const charset = reply === undefined ? {} : { charset: reply };
  if (bad === -1) return { ok: true, message: parsed.message, text, ...charset };
  // Read from the bytes, which only a charset where ASCII bytes are characters allows.
  const location = ASCII_SAFE_CHARSETS.has(decoded.charset)
    ? controlByteLocation(payload, bad)
    : undefined;
  const control = { offset: bad, byte: payload[bad]!, ...(location ? { location } : {}) };
  return { ok: true, message: parsed.message, text, control, ...charset };
}

/** `read` for the other thread: the message's MSH segment only (a copy, not a slice). */
export function toPortableRead(read: FrameRead): PortableRead {
  if (!read.ok) return read;
  const header = (" " + (read.message.get("MSH") ?? "")).slice(1);
  return {
    ok: true,
    header,
    ...(read.control ? { control: read.control } : {}),
    ...(read.charset ? { charset: read.charset } : {}),
  };
}

/** A {@link PortableRead} back as a {@link FrameRead}: its MSH segment parsed. */
export function fromPortableRead(read: PortableRead): FrameRead {
  if (!read.ok) return read;
  const parsed = tryParseHl7(read.header);
  // The whole message parsed on the other thread, so its MSH segment alone does too.
  if (!parsed.ok) throw new Error(`the MSH segment did not parse alone: ${parsed.error.message}`);
  return {
    ok: true,
    message: parsed.message,
    text: read.header,
    ...(read.control ? { control: read.control } : {}),
    ...(read.charset ? { charset: read.charset } : {}),
  };
}

/** The negative ACK (`AR`) for text that cannot be parsed, naming the parse error's condition. */
export function nakForUnparsable(
  reason: string,
  raw: string,
  parseError: Hl7ParseErrorCode,
): Uint8Array {
  const { code: errorCode, location: errorLocation } = parseErrorCondition(parseError);
  const nak = buildNakForUnparsable({ reason, raw, errorCode, errorLocation });
  return encoder.encode(nak.encode());
}

/**
 * Offset of the first MLLP start (0x0B) or end block (0x1C) byte in `payload`, or -1. Every
 * message is checked: a scan of the decoded text (`String#indexOf`, tens of nanoseconds for a few
 * KB) answers for the common charsets; the bytes are scanned (`Uint8Array#indexOf`, about 1 µs
 * per KB) only when the text has one, or in a charset such as UTF-16 where it cannot tell.
 */
function controlByteAt(payload: Uint8Array, decoded: DecodedHl7): number {
  if (
    ASCII_SAFE_CHARSETS.has(decoded.charset) && decoded.text.indexOf("\x0b") === -1 &&
    decoded.text.indexOf("\x1c") === -1
  ) return -1;
  return firstControlByte(payload);
}
