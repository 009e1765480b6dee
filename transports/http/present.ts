/**
 * How the admin endpoint shows records: actor statuses with ISO times beside the numbers, and
 * messages with their payload as text or base64 instead of raw bytes.
 * @module
 */

import type { ActorStatus } from "../../actors/runtime/actor.ts";
import type { LogRecord, MessageRecord } from "../../actors/store/types.ts";

/**
 * An {@link ActorStatus} as `GET /admin/actors` shows it: every field kept (times stay ms since
 * the epoch), plus `nextRetryAtIso`, `lastActivityAtIso` and `paused.atIso` as ISO 8601 strings
 * when the matching number is present.
 */
export type ActorStatusView = Omit<ActorStatus, "paused"> & {
  nextRetryAtIso?: string;
  lastActivityAtIso?: string;
  paused?: NonNullable<ActorStatus["paused"]> & { atIso?: string };
};

/** A message as `GET /admin/messages/:id` shows it. */
export type MessageView = Omit<MessageRecord, "inline"> & {
  receivedAtIso: string;
  /** `utf-8` when the payload decodes as UTF-8 (`payload` is then the text), else `base64`. */
  encoding: "utf-8" | "base64";
  payload: string;
  /** Its RECEIVE log and one SEND log per destination. */
  logs: LogRecord[];
};

const iso = (ms: number): string => {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : "";
};

/** Adds the ISO strings of {@link ActorStatusView} to a status. */
export function actorView(status: ActorStatus): ActorStatusView {
  const view: ActorStatusView = { ...status };
  if (status.nextRetryAt !== undefined) view.nextRetryAtIso = iso(status.nextRetryAt);
  if (status.lastActivityAt !== undefined) view.lastActivityAtIso = iso(status.lastActivityAt);
  if (status.paused) {
    view.paused = {
      ...status.paused,
      ...(status.paused.at !== undefined ? { atIso: iso(status.paused.at) } : {}),
    };
  }
  return view;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The payload as text if it is valid UTF-8, otherwise as base64. */
export function encodePayload(bytes: Uint8Array): Pick<MessageView, "encoding" | "payload"> {
  try {
    return { encoding: "utf-8", payload: utf8.decode(bytes) };
  } catch {
    return { encoding: "base64", payload: toBase64(bytes) };
  }
}

/** The message record without its inline bytes, with its payload encoded and its logs. */
export function messageView(
  record: MessageRecord,
  payload: Uint8Array,
  logs: LogRecord[],
): MessageView {
  const { inline: _inline, ...rest } = record;
  return { ...rest, receivedAtIso: iso(record.receivedAt), ...encodePayload(payload), logs };
}

function toBase64(bytes: Uint8Array): string {
  let out = "";
  // Chunks of a multiple of 3 bytes, so the pieces concatenate into one valid base64 string.
  for (let i = 0; i < bytes.length; i += 3 * 8192) {
    out += btoa(String.fromCharCode(...bytes.subarray(i, i + 3 * 8192)));
  }
  return out;
}

/**
 * The `Content-Type` to send raw bytes with: the record's own when it is a valid header value of
 * the form `type/subtype[; params]`, otherwise `application/octet-stream`.
 */
export function rawContentType(record: MessageRecord): string {
  const ct = record.contentType;
  return /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?:\s*;[\x20-\x7e]*)?$/.test(ct)
    ? ct
    : "application/octet-stream";
}
