/**
 * How the admin endpoint shows records: every time as ISO 8601 UTC ({@link isoTimes}), and
 * messages with their payload as text or base64 instead of raw bytes.
 * @module
 */

import type { ActorStatus, LogRecord, MessageRecord } from "../../actors/ports.ts";

/**
 * An {@link ActorStatus} as `GET /admin/actors` shows it; {@link isoTimes} writes its times
 * (`nextRetryAt`, `lastActivityAt`, `paused.at`) as ISO 8601.
 */
export type ActorStatusView = ActorStatus;

/** A message as `GET /admin/messages/:id` shows it. */
export type MessageView = Omit<MessageRecord, "inline"> & {
  /** `utf-8` when the payload decodes as UTF-8 (`payload` is then the text), else `base64`. */
  encoding: "utf-8" | "base64";
  payload: string;
  /** Its RECEIVE log and one SEND log per destination. */
  logs: LogRecord[];
};

/**
 * Properties that hold a time as ms since the epoch in the engine's records (actors, logs and
 * their attempts, messages, dead letters, verifications, the storage state, the running config's
 * `loadedAt`, alerts and their notifications' channels, the nodes' heartbeats); {@link isoTimes}
 * writes them as ISO 8601.
 */
export const TIME_KEYS: ReadonlySet<string> = new Set([
  "at",
  "since",
  "createdAt",
  "updatedAt",
  "receivedAt",
  "enqueuedAt",
  "nextRetryAt",
  "lastActivityAt",
  "connectedAt",
  "checkedAt",
  "verifiedAt",
  "expiresAt",
  "loadedAt",
  "lastNotifiedAt",
  "nextAt",
  "sentAt",
  "startedAt",
  "lastSeen",
  "lastAt",
]);

/**
 * `value` with every time (a number under one of the engine's time properties) written as
 * ISO 8601 UTC to the millisecond (`2024-03-15T17:30:00.123Z`), as every JSON answer gives
 * times. Durations (`durationMs`) and counts stay numbers.
 */
export function isoTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(isoTimes);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = typeof v === "number" && TIME_KEYS.has(k) ? iso(v) : isoTimes(v);
  }
  return out;
}

const iso = (ms: number): string => {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : "";
};

/** A status as the admin endpoint shows it (its times become ISO 8601 on the way out). */
export function actorView(status: ActorStatus): ActorStatusView {
  return status;
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
  return { ...rest, ...encodePayload(payload), logs };
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

/**
 * The headers of a message's raw bytes (`GET /admin/messages/:id?raw=1`): the record's content
 * type ({@link rawContentType}), but always a download that a browser neither renders, sniffs nor
 * runs (the bytes are the sender's, not the engine's), as the console's download.
 */
export function rawDownloadHeaders(record: MessageRecord): Record<string, string> {
  return {
    "Content-Type": rawContentType(record),
    "Content-Disposition": `attachment; filename="${rawFileName(record)}"`,
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
  };
}

/**
 * The download's file name: the message id, then `-` and the sender's file name when it has one,
 * both reduced to letters, digits, `_`, `.` and `-` (no quote, slash, space or control character
 * can reach the header), the file name without its folders and at most 100 characters.
 */
export function rawFileName(record: Pick<MessageRecord, "id" | "fileName">): string {
  const id = headerSafe(record.id).slice(0, 100) || "message";
  const base = record.fileName?.split(/[\\/]/).pop() ?? "";
  const name = headerSafe(base).slice(0, 100).replace(/^[.-]+/, "");
  return name === "" ? id : `${id}-${name}`;
}

const headerSafe = (text: string): string => text.replace(/[^\w.-]+/g, "_");
