/**
 * Whether two HL7 v2 messages carrying the same MSH-10 are one message sent again (a sender that
 * never saw its ACK resends it) or two messages (a sender that reuses control ids: a counter
 * restarted, or a fixed MSH-10). A resend is the same bytes; some senders rebuild it with a new
 * send time, so MSH-7 alone may differ.
 *
 * @module
 */

const M = 0x4d, S = 0x53, H = 0x48, CR = 0x0d, LF = 0x0a;

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

function sameRange(a: Uint8Array, aFrom: number, b: Uint8Array, bFrom: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[aFrom + i] !== b[bFrom + i]) return false;
  return true;
}

/**
 * True when `again` is `first` sent again: the same bytes, or the same but for MSH-7 (the time the
 * sender stamped on it). Bytes that do not begin with an MSH segment must be equal.
 *
 * @example
 * ```ts
 * const enc = new TextEncoder();
 * sameHl7Message(
 *   enc.encode("MSH|^~\\&|LAB||||20240101120000||ORU^R01|42|P|2.5\rPID|1"),
 *   enc.encode("MSH|^~\\&|LAB||||20240101120530||ORU^R01|42|P|2.5\rPID|1"),
 * ); // true: only the send time differs
 * ```
 */
export function sameHl7Message(first: Uint8Array, again: Uint8Array): boolean {
  if (first.length === again.length && sameRange(first, 0, again, 0, first.length)) return true;
  const a = sendTimeSpan(first), b = sendTimeSpan(again);
  if (!a || !b || a[0] !== b[0]) return false;
  const tailA = first.length - a[1], tailB = again.length - b[1];
  return tailA === tailB && sameRange(first, 0, again, 0, a[0]) &&
    sameRange(first, a[1], again, b[1], tailA);
}
