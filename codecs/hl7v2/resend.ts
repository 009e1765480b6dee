/**
 * The form in which two copies of an HL7 v2 message under one MSH-10 are compared to tell a resend
 * (a sender that never saw its ACK sends the message again) from another message (a sender that
 * reuses control ids): the bytes as received, but
 *
 * - MSH-7 (the send time) blanked: some senders rebuild a resend with a new one;
 * - every segment terminator written as CR: CR, LF and CR LF end a segment alike (HL7 says CR;
 *   some senders' retry paths convert line ends);
 * - the terminators after the last segment dropped: with or without a final CR (or CR LF, or
 *   blank lines), the message is the same.
 *
 * Two copies are one message when their comparable forms are equal ({@link sameHl7Message}), and
 * {@link hl7ResendDigest} is the SHA-256 of that form, so a message can be compared with one whose
 * bytes are no longer at hand. Bytes that do not begin with MSH (after an optional UTF-8 BOM, kept
 * in the form) have no MSH-7 to blank; an MSH without MSH-7 is compared whole too.
 *
 * @module
 */

import { createHash } from "node:crypto";

const M = 0x4d, S = 0x53, H = 0x48, CR = 0x0d, LF = 0x0a;

/** The CR that stands for a lone LF in the comparable form. */
const CR_ONLY = Uint8Array.of(CR);

/** Where MSH-7 lies in `bytes`: `[start, end)`, or undefined when they do not begin with MSH. */
function sendTimeSpan(bytes: Uint8Array): [number, number] | undefined {
  // A UTF-8 byte order mark may precede MSH; other encodings are compared byte for byte.
  const at = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  if (bytes[at] !== M || bytes[at + 1] !== S || bytes[at + 2] !== H) return undefined;
  const separator = bytes[at + 3];
  if (separator === undefined || separator === CR || separator === LF) return undefined;
  // MSH-1 is the separator itself: MSH-7 follows the sixth separator of the segment.
  let seen = 1;
  for (let i = at + 4; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === CR || b === LF) return undefined; // no MSH-7
    if (b !== separator) continue;
    if (++seen === 6) {
      let end = i + 1;
      while (end < bytes.length) {
        const c = bytes[end];
        if (c === separator || c === CR || c === LF) break;
        end++;
      }
      return [i + 1, end];
    }
  }
  return undefined;
}

/**
 * The comparable form of `bytes` (see the module), as pieces to be read one after another: slices
 * of `bytes` (no copy) and CRs standing for lone LFs.
 */
export function comparablePieces(bytes: Uint8Array): Uint8Array[] {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === CR || bytes[end - 1] === LF)) end--;
  const pieces: Uint8Array[] = [];
  const walk = (from: number, to: number) => {
    let start = from;
    for (let i = from; i < to; i++) {
      const b = bytes[i];
      if (b === CR) {
        if (i + 1 < to && bytes[i + 1] === LF) {
          pieces.push(bytes.subarray(start, i + 1)); // the CR, without its LF
          start = i + 2;
          i++;
        }
      } else if (b === LF) {
        pieces.push(bytes.subarray(start, i), CR_ONLY);
        start = i + 1;
      }
    }
    if (start < to) pieces.push(bytes.subarray(start, to));
  };
  const span = sendTimeSpan(bytes);
  if (span) {
    // MSH-7 follows a separator and holds no CR or LF: the cut never splits a CR LF.
    walk(0, Math.min(span[0], end));
    walk(span[1], end);
  } else {
    walk(0, end);
  }
  return pieces;
}

/** Whether two lists of pieces read as the same bytes. */
function samePieces(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  let total = 0;
  for (const p of a) total += p.length;
  for (const p of b) total -= p.length;
  if (total !== 0) return false;
  let ia = 0, oa = 0, ib = 0, ob = 0;
  // Each turn ends at least one piece: at most a.length + b.length turns.
  while (ia < a.length && ib < b.length) {
    const pa = a[ia]!, pb = b[ib]!;
    const n = Math.min(pa.length - oa, pb.length - ob);
    for (let k = 0; k < n; k++) if (pa[oa + k] !== pb[ob + k]) return false;
    oa += n;
    ob += n;
    if (oa === pa.length) [ia, oa] = [ia + 1, 0];
    if (ob === pb.length) [ib, ob] = [ib + 1, 0];
  }
  return true;
}

/**
 * True when `again` is `first` sent again: their comparable forms (see the module) are equal, so
 * the same bytes, or the same but for MSH-7, CR / LF / CR LF segment terminators and the
 * terminators after the last segment.
 *
 * @example
 * ```ts
 * const enc = new TextEncoder();
 * sameHl7Message(
 *   enc.encode("MSH|^~\\&|LAB||||20240101120000||ORU^R01|42|P|2.5\rPID|1\r"),
 *   enc.encode("MSH|^~\\&|LAB||||20240101120530||ORU^R01|42|P|2.5\r\nPID|1\r\n"),
 * ); // true: only the send time and the line ends differ
 * ```
 */
export function sameHl7Message(first: Uint8Array, again: Uint8Array): boolean {
  if (first.length === again.length) {
    let i = 0;
    while (i < first.length && first[i] === again[i]) i++;
    if (i === first.length) return true;
  }
  return samePieces(comparablePieces(first), comparablePieces(again));
}

/**
 * The SHA-256 (base64) of the comparable form of `bytes` (see the module): equal for two copies
 * {@link sameHl7Message} takes for one message, so a resend can be told by it alone.
 */
export function hl7ResendDigest(bytes: Uint8Array): string {
  const hash = createHash("sha256");
  for (const piece of comparablePieces(bytes)) hash.update(piece);
  return hash.digest("base64");
}
