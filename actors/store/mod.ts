/**
 * The durable store on Deno KV: messages of any size, per-actor FIFO queues, group commit, logs.
 * @module
 */

export {
  type AcceptDedupe,
  type AcceptRequest,
  type AcceptResult,
  type Delivery,
  type DerivedMessage,
  type LogUpdate,
  type QueryIds,
  type QueryPart,
  type QueryRecord,
  QUEUE_READS_AT_ONCE,
  type QueueHead,
  type QueueItem,
  type QueueLook,
  type RoutedEntry,
  Store,
  type StoreOptions,
} from "./store.ts";
export { GroupCommitter, type Write, type WriteOutcome } from "./group_commit.ts";
export { idFloor, IdGenerator, idTime } from "./ids.ts";
export { type OwedCompletion, OwedCompletions } from "./owed_completions.ts";
export { isLockedError, openKv, withKvRetry } from "./kv.ts";
export { keys } from "./keys.ts";
export {
  ensureStoreFormat,
  STORE_FORMAT,
  StoreFormatError,
  type StoreFormatMarker,
} from "./format.ts";
export { ReadGate } from "./read_gate.ts";
export { FencedError } from "./leases.ts";
export { listLogs, type LogFilter, type LogPage, sweepRetention } from "./logs.ts";
export { CHUNK_SIZE, collectOrphanChunks, INLINE_MAX, readPayload } from "./payloads.ts";
export type * from "./types.ts";
