/**
 * What an HL7v2 acknowledgment says about the message it answers: accepted, rejected (with the
 * peer's reason), or not an answer to it at all. Read the same way by whoever decides on it (the
 * delivery actor, and the socket thread that sends the next message on an accept).
 * @module
 */

import { tryParseHl7 } from "./parse.ts";

/** The verdict of one reply on the message whose MSH-10 is `controlId`. */
export type AckVerdict =
  | { kind: "accept"; code: string }
  | {
    kind: "reject";
    code: string;
    text?: string;
    /** The peer's error code (ERR-3.1, or ERR-1.4.1 before v2.5: `204`), when it gave one. */
    errorCode?: string;
  }
  | { kind: "uncorrelated"; detail: string };

const decoder = new TextDecoder();

/**
 * Reads MSA-1/MSA-2 (and the error text) of a reply, checking it answers `controlId`.
 *
 * @example
 * ```ts
 * const v = readAck(new TextEncoder().encode("MSH|^~\\&|||||||ACK|1|P|2.5\rMSA|AA|42"), "42");
 * v.kind; // "accept"
 * ```
 */
export function readAck(payload: Uint8Array, controlId: string): AckVerdict {
  const parsed = tryParseHl7(decoder.decode(payload));
  if (!parsed.ok) {
    return { kind: "uncorrelated", detail: `unreadable reply: ${parsed.error.message}` };
  }
  const msg = parsed.message;
  const code = msg.get("MSA-1");
  const answered = msg.get("MSA-2");
  if (code === undefined) {
    return { kind: "uncorrelated", detail: `reply has no MSA segment (${msg.messageType ?? "?"})` };
  }
  if (answered !== controlId) {
    return { kind: "uncorrelated", detail: `MSA-2 is ${JSON.stringify(answered ?? "")}` };
  }
  if (code === "AA" || code === "CA") return { kind: "accept", code };
  const text = msg.get("ERR-8") || msg.get("MSA-3") || msg.get("ERR-3.2") || msg.get("ERR-1.4.2");
  const errorCode = msg.get("ERR-3.1") || msg.get("ERR-1.4.1");
  const said = { ...(text ? { text } : {}), ...(errorCode ? { errorCode } : {}) };
  if (["AE", "AR", "CE", "CR"].includes(code)) return { kind: "reject", code, ...said };
  return { kind: "reject", code: `unknown acknowledgment code ${JSON.stringify(code)}`, ...said };
}

/** What {@link scanAck} could tell at a glance. */
export type AckScan =
  | { kind: "accept"; code: "AA" | "CA" }
  | { kind: "other" }
  | { kind: "unsure" };

/**
 * A glance at a reply without parsing it: `accept` when its first MSA accepts `controlId` (MSA-1
 * `AA` or `CA`, MSA-2 exactly `controlId`), `other` when it plainly answers another message
 * (MSA-2 another value), `unsure` for anything else — a reject, escapes or components in
 * MSA-1/MSA-2, no MSA, not HL7 — which {@link readAck} reads in full. It never says `accept` or
 * `other` where `readAck` reads another verdict; it does say `accept` of a reply `readAck` cannot
 * read at all (an MSH short of MSH-12, say) whose MSA accepts the message plainly, as receivers
 * with sloppy ACKs mean it. A fraction of a full parse's cost.
 *
 * @example
 * ```ts
 * const ack = new TextEncoder().encode("MSH|^~\\&|||||||ACK|1|P|2.5\rMSA|AA|42");
 * scanAck(ack, "42"); // { kind: "accept", code: "AA" }
 * ```
 */
export function scanAck(payload: Uint8Array, controlId: string): AckScan {
  const text = decoder.decode(payload);
  if (!text.startsWith("MSH") || text.length < 8) return UNSURE;
  const sep = text[3]!;
  // MSH-2: component, repetition, escape, subcomponent; a field holding any is read in full.
  const end = text.indexOf(sep, 4);
  if (end < 0) return UNSURE;
  const special = text.slice(4, end) + "\r\n";
  let at = -1;
  for (const eol of ["\r", "\n"]) {
    const i = text.indexOf(`${eol}MSA${sep}`);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  if (at < 0) return UNSURE;
  const fields = text.slice(at + 5).split(/[\r\n]/, 1)[0]!.split(sep);
  const code = fields[0] ?? "";
  const answered = fields[1] ?? "";
  if (answered === "" || [...special].some((c) => code.includes(c) || answered.includes(c))) {
    return UNSURE;
  }
  if (answered !== controlId) return OTHER;
  if (code === "AA" || code === "CA") return { kind: "accept", code };
  return UNSURE;
}

const UNSURE: AckScan = { kind: "unsure" };
const OTHER: AckScan = { kind: "other" };

/**
 * MSH-10 read straight from the first segment, without parsing the whole message.
 *
 * @example
 * ```ts
 * readControlId(new TextEncoder().encode("MSH|^~\\&|A|B|C|D|20260101||ADT^A01|42|P|2.5")); // "42"
 * ```
 */
export function readControlId(payload: Uint8Array): string | undefined {
  const head = decoder.decode(payload.subarray(0, 2048));
  if (!head.startsWith("MSH") || head.length < 4) return undefined;
  const first = head.split(/\r|\n/, 1)[0] ?? "";
  return first.split(head[3]!)[9] || undefined;
}
