/**
 * The KV key layout, in one place. KV refuses a key over 2 KiB (`Key too large`), and several key
 * parts come from peers (an MSH-10, an id in an admin URL, a file's name): every string part goes
 * through {@link keyPart}, which keeps a short one as it is and replaces a long one by its SHA-256,
 * so a key stays small and still names exactly one value.
 * @module
 */

import { createHash } from "node:crypto";

/** Longest string part kept as it is (≤ 600 UTF-8 bytes, so 3 parts stay under 2 KiB). */
export const MAX_KEY_PART_CHARS = 200;

/**
 * `part` itself when short, else `sha256:` and its hex digest plus its length. A short part
 * cannot collide with a hashed one unless it is the digest of a long one (a SHA-256 preimage).
 */
export function keyPart(part: string): string {
  if (part.length <= MAX_KEY_PART_CHARS) return part;
  return `sha256:${createHash("sha256").update(part).digest("hex")}:${part.length}`;
}

/**
 * Largest MSH-10 kept as it is in a message record or log; a longer one is kept cut
 * ({@link boundText}), and the whole value is in the message itself.
 */
export const MAX_RECORD_CONTROL_ID = 1024;

/** `text` cut to `max` characters with a note of its full length (for values shown to people). */
export function boundText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length} characters)`;
}

/** Key builders for every record the store writes. */
export const keys = {
  message: (id: string): Deno.KvKey => ["msg", keyPart(id)],
  chunk: (id: string, i: number): Deno.KvKey => ["chunk", keyPart(id), i],
  chunkPrefix: (id: string): Deno.KvKey => ["chunk", keyPart(id)],
  chunkPending: (id: string): Deno.KvKey => ["chunk_pending", keyPart(id)],
  chunkPendingPrefix: ["chunk_pending"] as Deno.KvKey,
  // Queue names are actor ids the engine makes (config ids, a port and an address), read back
  // from `qdepth` keys at start: they stay as they are.
  queueEntry: (queue: string, seq: string): Deno.KvKey => ["q", queue, keyPart(seq)],
  queuePrefix: (queue: string): Deno.KvKey => ["q", queue],
  queueDepth: (queue: string): Deno.KvKey => ["qdepth", queue],
  queueDepthPrefix: ["qdepth"] as Deno.KvKey,
  deadLetter: (queue: string, seq: string): Deno.KvKey => ["dlq", queue, keyPart(seq)],
  deadLetterPrefix: (queue: string): Deno.KvKey => ["dlq", queue],
  log: (id: string): Deno.KvKey => ["log", keyPart(id)],
  logPrefix: ["log"] as Deno.KvKey,
  logByMessage: (messageId: string, logId: string): Deno.KvKey => [
    "log_by_msg",
    keyPart(messageId),
    keyPart(logId),
  ],
  logByMessagePrefix: (messageId: string): Deno.KvKey => ["log_by_msg", keyPart(messageId)],
  dedupe: (scope: string, id: string): Deno.KvKey => ["dedupe", keyPart(scope), keyPart(id)],
  /** Payload compression dictionaries, by day (see dictionaryKey in dictionaries.ts). */
  dictionaryPrefix: ["dict"] as Deno.KvKey,
  /** How many dictionaries a sender has on a day (bounded). */
  dictionaryCount: (day: number, sender: string): Deno.KvKey => [
    "dict_count",
    day,
    keyPart(sender),
  ],
  dictionaryCountPrefix: (day: number): Deno.KvKey => ["dict_count", day],
  actorControl: (actor: string): Deno.KvKey => ["actor", actor],
  lease: (actor: string): Deno.KvKey => ["lease", actor],
  /** The latest verification of an HTTPS destination (shared by every process on the KV). */
  verification: (destinationId: string): Deno.KvKey => [
    "destinations",
    keyPart(destinationId),
    "verification",
  ],
  /** The key access tokens are signed with (one per KV, so every process accepts them). */
  accessTokenKey: ["auth", "access-token-key"] as Deno.KvKey,
  /** A used client-assertion `jti`, by the SHA-256 of client id and jti (a jti may be long). */
  usedJti: (digest: Uint8Array): Deno.KvKey => ["auth", "jti", digest],
  /** An alert that is firing: its rule and subject (what it is about). */
  alertState: (rule: string, subject: string): Deno.KvKey => [
    "alert_state",
    keyPart(rule),
    keyPart(subject),
  ],
  alertStatePrefix: ["alert_state"] as Deno.KvKey,
  /** A notification of an alert still to be sent on some channel. */
  alertOutbox: (id: string): Deno.KvKey => ["alert_outbox", id],
  alertOutboxPrefix: ["alert_outbox"] as Deno.KvKey,
  /** Every notification sent (firing, reminder, resolved), by time-ordered id. */
  alertHistory: (id: string): Deno.KvKey => ["alert_hist", keyPart(id)],
  alertHistoryPrefix: ["alert_hist"] as Deno.KvKey,
  /** Alert rules set through `PUT /admin/alerts` (they replace the config's). */
  alertRules: ["alert_rules"] as Deno.KvKey,
  /** An imported translation set's latest version (translation_sets.ts). */
  translationSetHead: (name: string): Deno.KvKey => ["tset", keyPart(name), "head"],
  /** One version's record of an imported translation set. */
  translationSetVersion: (name: string, v: number): Deno.KvKey => ["tset", keyPart(name), "v", v],
  translationSetVersions: (name: string): Deno.KvKey => ["tset", keyPart(name), "v"],
  /** A piece of one version's entries (a table may be larger than one KV value). */
  translationSetChunk: (name: string, dataId: string, i: number): Deno.KvKey => [
    "tset",
    keyPart(name),
    "data",
    dataId,
    i,
  ],
  translationSetPrefix: ["tset"] as Deno.KvKey,
  /**
   * A polled file stored but left in place (its archive or delete was refused), by integration
   * and path on the server: the poller does not take it again while it is there unchanged
   * (`left_in_place.ts`).
   */
  sftpLeftFile: (integration: string, path: string): Deno.KvKey => [
    "sftp_left",
    keyPart(integration),
    keyPart(path),
  ],
  sftpLeftFilePrefix: (integration: string): Deno.KvKey => ["sftp_left", keyPart(integration)],
  /** The store's probe write while it is not writable (one per node). */
  healthProbe: (node: string): Deno.KvKey => ["health_probe", keyPart(node)],
  /**
   * The wall time an engine on this KV was last seen running (one row for the whole KV; see
   * last_seen.ts).
   */
  lastSeen: ["last_seen"] as Deno.KvKey,
  /**
   * The store-format marker: which layout of rows the KV holds and which engine release wrote it
   * (one row for the whole KV; see format.ts). Never swept, listed or moved.
   */
  storeFormat: ["store", "format"] as Deno.KvKey,
};
