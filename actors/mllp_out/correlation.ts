/**
 * What the MLLP deliverer needs to know about a message besides its bytes, read cheaply: the
 * MSH-10 an ACK must name (the record keeps a bounded copy only), why MLLP cannot carry it (a
 * control byte), and a short safe account of replies that answer something else.
 * @module
 */

import { tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import { MLLP_END, MLLP_START } from "../../codecs/mllp/mod.ts";
// The longest MSH-10 a record holds as it is: the store cuts a longer one, adding its length.
import { MAX_RECORD_CONTROL_ID } from "../store/keys.ts";

const decoder = new TextDecoder();
const CR = 0x0d;
const LF = 0x0a;

/**
 * The MSH-10 an ACK of the message must name in MSA-2: the record's, unless the record holds none
 * or only its bounded copy (a longer one), in which case it is read from `payload` (undefined when
 * the payload is not at hand or has none). One length check for a message of an ordinary MSH-10.
 */
export function correlationId(
  recorded: string | undefined,
  payload: Uint8Array | undefined,
): string | undefined {
  // An X12 interchange's control number is no MSH-10: no HL7 ACK can ever answer it.
  if (payload && notHl7Reason(payload) !== undefined) return undefined;
  if (recorded !== undefined && recorded.length <= MAX_RECORD_CONTROL_ID) return recorded;
  if (!payload) return undefined;
  // Should the payload not say (not HL7 after all), the record's copy is all there is.
  return messageControlId(payload) ?? recorded;
}

/**
 * MSH-10 of `payload`, whole and as a parse reads it (the value a record and an ACK's reader
 * compare), from its first segment only; a full parse only when the field holds encoding
 * characters (escapes, components).
 */
export function messageControlId(payload: Uint8Array): string | undefined {
  let end = payload.indexOf(CR);
  if (end < 0) end = payload.length;
  const lf = payload.subarray(0, end).indexOf(LF);
  if (lf >= 0) end = lf;
  const first = decoder.decode(payload.subarray(0, end));
  if (!first.startsWith("MSH") || first.length < 8) return undefined;
  const sep = first[3]!;
  const fields = first.split(sep);
  const raw = fields[9];
  if (!raw) return undefined;
  const special = fields[1] ?? "";
  for (const c of special) {
    if (raw.includes(c)) {
      const parsed = tryParseHl7(decoder.decode(payload));
      return parsed.ok ? parsed.message.controlId || undefined : undefined;
    }
  }
  return raw;
}

/** A UTF-8 byte order mark, which some senders put before MSH. */
const BOM = [0xef, 0xbb, 0xbf];

/**
 * Why `payload` is not an HL7 v2 message an MLLP destination can send (it does not begin with
 * `MSH`, after an optional UTF-8 byte order mark and blanks: X12, XML, JSON, UTF-16 text…), or undefined
 * when it is one. Such a message goes to the dead letters at once: no retry makes a receiver's
 * HL7 ACK answer it, and waiting for one would hold the destination's queue for good.
 */
export function notHl7Reason(payload: Uint8Array): string | undefined {
  let from = BOM.every((b, i) => payload[i] === b) ? 3 : 0;
  // Line breaks or blanks before MSH: a sender's sloppiness a receiver's parser forgives.
  while (from < payload.length && [0x0d, 0x0a, 0x20, 0x09].includes(payload[from]!)) from++;
  if (payload[from] === 0x4d && payload[from + 1] === 0x53 && payload[from + 2] === 0x48) {
    return undefined; // "MSH"
  }
  const start = decoder.decode(payload.subarray(0, 24));
  const more = payload.length > 24 ? "…" : "";
  return `not an HL7 v2 message (it begins "${
    clipPeerText(start)
  }${more}", not MSH): an MLLP destination sends HL7 v2 only, and no ACK could answer this message`;
}

/**
 * Why MLLP cannot carry `payload`, or undefined when it can: the first start-block (0x0B) or
 * end-block (0x1C) byte in it, which would split or restart the frame at the receiver (the
 * encoder refuses it). A scan of the payload: for the path where a send already failed.
 */
export function unframeableReason(payload: Uint8Array): string | undefined {
  const start = payload.indexOf(MLLP_START);
  const end = payload.indexOf(MLLP_END);
  const at = start < 0 ? end : end < 0 ? start : Math.min(start, end);
  if (at < 0) return undefined;
  const byte = payload[at]!.toString(16).toUpperCase().padStart(2, "0");
  return `the message holds the MLLP control byte 0x${byte} at byte offset ${at}; ` +
    "MLLP cannot carry it";
}

/** Characters of a peer's text kept in a reason or a log line. */
const QUOTED_MAX = 160;

/**
 * A peer's text (a reply's verdict detail, an MSH-10) made safe for a one-line reason: control
 * characters escaped as JSON escapes them, cut to {@link QUOTED_MAX} characters (on a code point)
 * with "…" when longer.
 */
export function clipPeerText(text: string, max = QUOTED_MAX): string {
  const head = text.length > max ? Array.from(text.slice(0, max * 2)).slice(0, max).join("") : text;
  let safe = "";
  for (const c of head) {
    const n = c.charCodeAt(0);
    const control = n < 0x20 || (n >= 0x7f && n <= 0x9f) || n === 0x2028 || n === 0x2029;
    safe += control ? `\\u${n.toString(16).padStart(4, "0")}` : c;
  }
  return head.length < text.length ? `${safe}…` : safe;
}

/**
 * How many replies that acknowledge something else came during one wait, and the first's
 * detail, for the attempt's reason: "the destination answered 2 replies that do not acknowledge
 * this message (first: MSA-2 is "X")".
 */
export function describeStrayReplies(count: number, firstDetail: string): string {
  const what = count === 1 ? "1 reply that does" : `${count} replies that do`;
  return `the destination answered ${what} not acknowledge this message ` +
    `(${count === 1 ? "" : "first: "}${clipPeerText(firstDetail)})`;
}
