/**
 * Intake: a received message stored with its RECEIVE log and queue entry in one group commit
 * (deduplicated, compressed, routed at once when the caller knows its deliveries), and the
 * translations a routing commit stores with it made ready beforehand.
 * @module
 */

import {
  copiesAfter,
  type DedupeRecord,
  earlierThan,
  judgeRead,
  MAX_STORED_ACK,
  type Replaced,
} from "./dedupe_records.ts";
import type { Write } from "./group_commit.ts";
import { isStorageFault, StoreUnavailableError } from "./health.ts";
import { boundText, keys, MAX_RECORD_CONTROL_ID } from "./keys.ts";
import type { Dictionary } from "./dictionaries.ts";
import { MAX_WITH_DICTIONARY } from "./raw_deflate.ts";
import { DEFLATE_FROM, INLINE_MAX, smallPayload, writePayload } from "./payloads.ts";
import { addRows, appendDeliveries, type Appended, routedItems } from "./deliveries.ts";
import type { AcceptRequest, AcceptResult, DerivedMessage } from "./requests.ts";
import { optional, RECORD_BYTES } from "./records.ts";
import type { StoreContext } from "./store_context.ts";
import type { LogRecord, MessageRecord, QueueEntry } from "./types.ts";

/** The compression dictionary of the sender's messages of this kind, once there is one. */
function dictionaryFor(
  ctx: StoreContext,
  request: AcceptRequest,
  messageId: string,
): Dictionary | undefined {
  const sender = `${request.origin.kind}:${request.origin.id}`;
  const kind = request.messageType ?? request.contentType;
  return dictionaryOf(ctx, sender, kind, messageId, request.payload);
}

/** The compression dictionary for `payload` of `sender`'s messages of `kind`, if it is worth one. */
function dictionaryOf(
  ctx: StoreContext,
  sender: string,
  kind: string,
  messageId: string,
  payload: Uint8Array,
): Dictionary | undefined {
  if (payload.length <= DEFLATE_FROM || payload.length > MAX_WITH_DICTIONARY) return undefined;
  return ctx.dictionaries.forWrite(sender, kind, messageId, payload);
}

/**
 * Stores a received message durably with its RECEIVE log and its queue entry (or, with
 * `request.deliveries`, routed at once), deduplicated by `request.dedupe`: `Store.accept` without
 * its answer to a copy that is being stored right now.
 */
export async function acceptMessage(
  ctx: StoreContext,
  request: AcceptRequest,
): Promise<AcceptResult> {
  const { dedupe } = request;
  const dedupeKey = dedupe ? keys.dedupe(dedupe.scope, dedupe.key) : undefined;
  // A small message goes straight to the commit, whose check on the dedupe key refuses a
  // repeat (answered below): a read before every accept would wait behind the commit in flight
  // on KV's one worker thread. A large one is looked up first, so a repeat does not write chunks.
  let seenVersion: string | null = null;
  /** The key's record within its window, when it names another message than this one. */
  let replaced: Replaced | undefined;
  if (dedupe && dedupeKey && request.payload.length > INLINE_MAX) {
    const seen = await ctx.kv.get<DedupeRecord>(dedupeKey);
    if (seen.value) {
      const judged = await judgeRead(ctx, seen.value, dedupe, request.payload);
      if (judged.duplicate) return judged.duplicate;
      replaced = judged.replaced;
      seenVersion = seen.versionstamp; // past the window, or another message: replaced by this one
    }
  }
  const now = ctx.now();
  const messageId = request.messageId ?? ctx.self.newId();
  const logId = ctx.self.newId();
  const seq = ctx.self.newId();
  // A small payload is inline: no await (each one is a turn more before the commit is queued).
  const small = request.payload.length <= INLINE_MAX
    ? smallPayload(messageId, request.payload, dictionaryFor(ctx, request, messageId))
    : undefined;
  const payload = small
    ? small.fields
    : await writeLargePayload(ctx, messageId, request.payload, now);
  const controlId = request.controlId === undefined
    ? undefined
    : boundText(request.controlId, MAX_RECORD_CONTROL_ID);
  const record: MessageRecord = {
    id: messageId,
    origin: request.origin,
    receivedAt: now,
    contentType: request.contentType,
    ...payload,
    ...optional({
      controlId,
      messageType: request.messageType,
      fileName: request.fileName,
      sha256: request.sha256,
    }),
    receiveLogId: logId,
  };
  const log: LogRecord = {
    id: logId,
    messageId,
    type: request.log.type,
    status: "PENDING",
    createdAt: now,
    updatedAt: now,
    attempts: [],
    attemptCount: 0,
    actorId: request.queue,
    ...optional({ configVersion: ctx.self.configVersion() }),
    ...optional({ ...request.log, controlId }),
  };
  const entry: QueueEntry = { seq, messageId, logId, enqueuedAt: now };
  const write: Write = {
    // The RECEIVE log is found through `record.receiveLogId`, without a log_by_msg entry.
    sets: [
      { key: keys.message(messageId), value: record },
      { key: keys.log(logId), value: log },
      ...(small?.rows ?? []),
    ],
    deletes: !small && payload.chunks > 0 ? [keys.chunkPending(messageId)] : [],
    sums: [],
    bytes: request.payload.length + RECORD_BYTES * 3,
  };
  // The translations the deliveries send are stored by this commit too: never one without it.
  for (const d of request.derived ?? []) addRows(write, d);
  let appended: Appended[] | undefined;
  if (request.deliveries) {
    log.status = request.deliveries.length > 0 ? "SUCCEEDED" : "FILTERED";
    if (request.deliveries.length === 0) log.reason ??= "no subscription wants this message";
    // Routed with the message: the record names its SEND logs (no log_by_msg row each).
    appended = appendDeliveries(ctx.self, write, request.deliveries, now, { indexed: false });
    if (appended.length > 0) record.sendLogIds = appended.map((a) => a.log.id);
  } else {
    write.sets!.push({ key: keys.queueEntry(request.queue, seq), value: entry });
    write.sums!.push({ key: keys.queueDepth(request.queue), n: 1n });
  }
  // What was routed is handed on with the versionstamp of the commit that stored it.
  const stored = (versionstamp: string): AcceptResult => ({
    status: "stored",
    messageId,
    logId,
    seq,
    ...(replaced ? { reused: replaced.record.messageId } : {}),
    ...(appended
      ? {
        sendLogIds: appended.map((a) => a.log.id),
        routed: routedItems(appended, versionstamp, record, request),
      }
      : {}),
  });
  if (!dedupe || !dedupeKey) {
    const outcome = await ctx.committer.commit(write);
    if (outcome.ok) return stored(outcome.versionstamp);
    throw new Error("accept: commit refused without a check to explain it");
  }
  const remembered: DedupeRecord = {
    messageId,
    at: now,
    // An empty one is not kept: the sender rebuilds its ACK (from the message id) instead.
    ...(dedupe.ack && dedupe.ack.length <= MAX_STORED_ACK ? { ack: dedupe.ack } : {}),
  };
  // No expireIn: KV expires keys by the wall clock of whichever process reads them, so one whose
  // clock stepped forward would erase every record at once, for good. The window is the record's
  // own time, compared on reading; the retention sweep removes records past it.
  write.sets!.push({ key: dedupeKey, value: remembered });
  for (let attempt = 1; attempt <= 3; attempt++) {
    write.checks = [{ key: dedupeKey, versionstamp: seenVersion }];
    // Set between attempts only: the committer serializes the write when it is given it.
    if (replaced) {
      remembered.earlier = earlierThan(replaced.record);
      const copies = copiesAfter(ctx, replaced, dedupe.windowMs);
      if (copies.length > 0) remembered.digests = copies;
      else delete remembered.digests;
    } else if (attempt > 1) {
      // The first attempt's record has neither (nothing more on the path of a new key).
      delete remembered.earlier;
      delete remembered.digests;
    }
    const outcome = await ctx.committer.commit(write);
    if (outcome.ok) return stored(outcome.versionstamp);
    // A repeat: stored earlier (a small message is not looked up first), or by another process.
    const seen = await ctx.kv.get<DedupeRecord>(dedupeKey);
    const judged = await judgeRead(ctx, seen.value, dedupe, request.payload);
    if (judged.duplicate) return judged.duplicate;
    replaced = judged.replaced;
    // Gone, older than the window, or another message under the key: this message replaces it
    // (checked, in case of a race).
    seenVersion = seen.versionstamp;
  }
  throw new Error("accept: the dedupe record kept changing; not stored");
}

/** Writes a large payload's chunks; a KV fault is reported as the store being unwritable. */
async function writeLargePayload(
  ctx: StoreContext,
  id: string,
  payload: Uint8Array,
  now: number,
): ReturnType<typeof writePayload> {
  try {
    return await writePayload(ctx.kv, id, payload, now);
  } catch (error) {
    if (!isStorageFault(error)) throw error;
    ctx.health.failed(error);
    throw new StoreUnavailableError(error);
  }
}

/**
 * A translation of `originalId` made ready for the commit that routes it (`derived` of
 * `Store.route`, of `Store.accept`): its id, its record, its payload and the rows that store it
 * (none is stored on its own: always by the commit that routes it). A small payload is stored as
 * a received one is (in the record, or a row of its own beside it) and writes nothing before that commit; with
 * `options.dictionary` (the original's sender, and the kind of translation) it is deflated after
 * that sender's dictionary for that kind, once there is one. A large payload's chunks are
 * written now, marked pending until that commit.
 */
export async function prepareDerived(
  ctx: StoreContext,
  originalId: string,
  payload: Uint8Array,
  contentType: string,
  options: { dictionary?: { sender: string; kind: string } } = {},
): Promise<DerivedMessage> {
  const now = ctx.now();
  const id = ctx.self.newId();
  const by = options.dictionary;
  const small = payload.length <= INLINE_MAX
    ? smallPayload(id, payload, by && dictionaryOf(ctx, by.sender, by.kind, id, payload))
    : undefined;
  const stored = small ? small.fields : await writeLargePayload(ctx, id, payload, now);
  const record: MessageRecord = {
    id,
    origin: { kind: "engine", id: "translator" },
    receivedAt: now,
    contentType,
    derivedFrom: originalId,
    ...stored,
  };
  return {
    id,
    record,
    payload,
    rows: {
      sets: [{ key: keys.message(id), value: record }, ...(small?.rows ?? [])],
      deletes: !small && stored.chunks > 0 ? [keys.chunkPending(id)] : [],
      // A large payload is in its chunks already: only the record goes with the commit.
      bytes: (small ? payload.length : 0) + RECORD_BYTES,
    },
  };
}
