/**
 * The KV key layout, in one place.
 * @module
 */

/** Key builders for every record the store writes. */
export const keys = {
  message: (id: string): Deno.KvKey => ["msg", id],
  chunk: (id: string, i: number): Deno.KvKey => ["chunk", id, i],
  chunkPrefix: (id: string): Deno.KvKey => ["chunk", id],
  chunkPending: (id: string): Deno.KvKey => ["chunk_pending", id],
  chunkPendingPrefix: ["chunk_pending"] as Deno.KvKey,
  queueEntry: (queue: string, seq: string): Deno.KvKey => ["q", queue, seq],
  queuePrefix: (queue: string): Deno.KvKey => ["q", queue],
  queueDepth: (queue: string): Deno.KvKey => ["qdepth", queue],
  queueDepthPrefix: ["qdepth"] as Deno.KvKey,
  deadLetter: (queue: string, seq: string): Deno.KvKey => ["dlq", queue, seq],
  deadLetterPrefix: (queue: string): Deno.KvKey => ["dlq", queue],
  log: (id: string): Deno.KvKey => ["log", id],
  logPrefix: ["log"] as Deno.KvKey,
  logByMessage: (messageId: string, logId: string): Deno.KvKey => ["log_by_msg", messageId, logId],
  logByMessagePrefix: (messageId: string): Deno.KvKey => ["log_by_msg", messageId],
  dedupe: (scope: string, id: string): Deno.KvKey => ["dedupe", scope, id],
  actorControl: (actor: string): Deno.KvKey => ["actor", actor],
  lease: (actor: string): Deno.KvKey => ["lease", actor],
};
