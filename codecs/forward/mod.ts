/**
 * The wire format of agent mode (`POST /forward` from one engine to another): the headers that
 * carry a message's metadata next to its original bytes, and the central engine's answer. Pure
 * code shared by the sending side (actors/forward) and the receiving route (transports/http).
 * @module
 */

/** The path a central engine takes forwarded messages at. */
export const FORWARD_PATH = "/forward";

/** Header names (lower case). Free-text values are percent-encoded (`encodeURIComponent`). */
export const FORWARD_HEADERS = {
  /** The sending engine's message id: with the token's source, the dedupe key. Required. */
  messageId: "forward-message-id",
  /** The sending engine's integration the message came in on (routes to a mapped integration). */
  integration: "forward-integration",
  /** When the sending engine received it (ISO 8601). */
  receivedAt: "forward-received-at",
  /** MSH-10 (or another control number), percent-encoded. */
  controlId: "forward-control-id",
  /** The original file name of a file message, percent-encoded. */
  fileName: "forward-file-name",
  /**
   * `wait=<seconds>`: the sender waits for an application ACK; the answer may be held that long
   * for the central application step's verdict.
   */
  appAck: "forward-app-ack",
} as const;

/** The application verdict carried back (HL7 MSA-1 and ERR). */
export interface ForwardVerdict {
  code: "AA" | "AE" | "AR";
  text?: string;
  errorCode?: string;
  location?: string;
}

/** The central engine's `200` body. */
export interface ForwardAnswer {
  /** The central engine's message id. */
  messageId: string;
  /** True when this message was already stored (a retry after a lost answer). */
  duplicate: boolean;
  /** The application step's verdict, when asked for and given in time. */
  appAck?: ForwardVerdict;
}

/** Longest wait for a verdict a sender may ask for, seconds. */
export const MAX_APP_ACK_WAIT_S = 300;

/** `forward-app-ack: wait=<seconds>` read: the seconds (bounded), or 0 when absent or unreadable. */
export function parseAppAckWait(header: string | null | undefined): number {
  const m = /^\s*wait=(\d{1,6})\s*$/.exec(header ?? "");
  return m ? Math.min(Number(m[1]), MAX_APP_ACK_WAIT_S) : 0;
}

/** The answer body read back, or a sentence saying what is wrong with it. */
export function parseForwardAnswer(text: string): ForwardAnswer | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "the answer is not JSON";
  }
  const o = json as Record<string, unknown> | null;
  if (typeof o !== "object" || o === null || typeof o.messageId !== "string" || !o.messageId) {
    return "the answer has no messageId";
  }
  const answer: ForwardAnswer = { messageId: o.messageId, duplicate: o.duplicate === true };
  const v = o.appAck as Record<string, unknown> | undefined;
  if (v && typeof v === "object" && (v.code === "AA" || v.code === "AE" || v.code === "AR")) {
    answer.appAck = {
      code: v.code,
      ...(typeof v.text === "string" ? { text: v.text.slice(0, 1000) } : {}),
      ...(typeof v.errorCode === "string" ? { errorCode: v.errorCode.slice(0, 20) } : {}),
      ...(typeof v.location === "string" ? { location: v.location.slice(0, 100) } : {}),
    };
  }
  return answer;
}

/** `value` decoded from a header, or undefined when absent or not valid percent-encoding. */
export function headerText(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
