/**
 * The dedupe record a message's key (its sender's MSH-10, say) points to: the message it names now,
 * its first copy's ACK, and the messages it named before within their windows (their ids, and the
 * digests of those a later message replaced); and how a new message is judged against it: a
 * duplicate of one of them, or a message replacing the current one.
 * @module
 */

import { idTime } from "./ids.ts";
import { keys } from "./keys.ts";
import { readPayload } from "./payloads.ts";
import type { AcceptDedupe, AcceptResult } from "./requests.ts";
import type { StoreContext } from "./store_context.ts";
import type { MessageRecord } from "./types.ts";

export interface DedupeRecord {
  messageId: string;
  /** Absent when the ACK was too large to keep: the request's own ACK is answered instead. */
  ack?: string;
  /** When the first copy was stored (ms); older records were written without it. */
  at?: number;
  /**
   * The messages the key named before this one within their windows, newest first (a sender
   * reusing it), at most {@link MAX_EARLIER}: a search by the key finds them too.
   */
  earlier?: string[];
  /**
   * With `dedupe.digest`: the messages of `earlier` still within their windows when this record
   * was written whose payload's digest was taken as they were replaced, newest first, at most
   * {@link MAX_EARLIER}. A field of its own, not entries of `earlier`: that stays a list of ids
   * (the search by control id, and older versions, read it so). Records written before it have
   * none.
   */
  digests?: EarlierCopy[];
}

/** A message the key named before its current one, told by its digest (`dedupe.digest`). */
interface EarlierCopy {
  /** Its message id. */
  id: string;
  /** When its first copy was stored (ms): its window runs from then. */
  at: number;
  /** `dedupe.digest` of its payload. */
  digest: string;
  /** Its first copy's ACK, when kept (at most {@link MAX_EARLIER_ACK}). */
  ack?: string;
}

/** Most earlier messages a dedupe record names (a sender with a fixed MSH-10 has many). */
const MAX_EARLIER = 20;

/**
 * Largest ACK an earlier copy keeps: 20 of them and the record's own (8 KiB) stay well within a
 * KV value's 64 KiB. A larger one is not kept; a duplicate of it gets the request's own ACK, as a
 * duplicate of the current message does (the MLLP inbox keeps none: it rebuilds the ACK from the
 * message id, the same bytes as the first copy's).
 */
const MAX_EARLIER_ACK = 1024;

/** The record the key's current one replaces, with the digest of its message, when taken. */
export interface Replaced {
  record: DedupeRecord;
  /** `dedupe.digest` of its payload; absent without `dedupe.digest`, or with its payload gone. */
  digest?: string;
}

/** What a record replacing `replaced` (another message under the key) says came before it. */
export function earlierThan(replaced: DedupeRecord): string[] {
  return [replaced.messageId, ...(replaced.earlier ?? [])].slice(0, MAX_EARLIER);
}

/**
 * The earlier copies a record keeps, read from one written by any version: none in a record
 * written before they were kept, and only well-formed ones.
 */
function copiesOf(record: DedupeRecord): EarlierCopy[] {
  const copies = Array.isArray(record.digests) ? record.digests : [];
  return copies.filter((c) =>
    typeof c?.id === "string" && typeof c.at === "number" && typeof c.digest === "string"
  );
}

/**
 * The earlier copies a record replacing `replaced` keeps: the replaced message (when its digest
 * was taken) and those it kept, still within their windows, newest first, at most
 * {@link MAX_EARLIER}.
 */
export function copiesAfter(
  ctx: StoreContext,
  replaced: Replaced,
  windowMs: number,
): EarlierCopy[] {
  const { record, digest } = replaced;
  const own: EarlierCopy[] = digest === undefined ? [] : [{
    id: record.messageId,
    at: record.at ?? idTime(record.messageId),
    digest,
    ...(record.ack !== undefined && record.ack.length <= MAX_EARLIER_ACK
      ? { ack: record.ack }
      : {}),
  }];
  return [...own, ...copiesOf(record)]
    .filter((c) => within(ctx, c.at, windowMs))
    .slice(0, MAX_EARLIER);
}

/** Largest ACK kept in a dedupe record (a KV value holds 64 KiB; a peer's MSH-10 is unbounded). */
export const MAX_STORED_ACK = 8 * 1024;

/** A duplicate's answer: the first copy's ACK, or the request's own when it was not kept. */
function duplicate(record: DedupeRecord, ack: string): AcceptResult {
  return { status: "duplicate", messageId: record.messageId, ack: record.ack ?? ack };
}

/**
 * What the key's record within its window says of this message: a duplicate of the message it
 * names ({@link isRepeat}) or, with `dedupe.digest`, of an earlier one it keeps the digest of
 * (this message's `payload` is digested only when there is one to compare); otherwise the record this
 * message replaces, with the digest of the payload just read to compare (taken only here: never
 * for a message the key does not name yet).
 */
async function judge(
  ctx: StoreContext,
  record: DedupeRecord,
  dedupe: AcceptDedupe,
  payload: Uint8Array,
): Promise<{ duplicate: AcceptResult } | { replaced: Replaced }> {
  const seen = await isRepeat(ctx, record, dedupe);
  if (seen === true) return { duplicate: duplicate(record, dedupe.ack) };
  const { digest } = dedupe;
  if (!digest) return { replaced: { record } };
  const copies = copiesOf(record).filter((c) => within(ctx, c.at, dedupe.windowMs));
  if (copies.length > 0) {
    const mine = digest(payload);
    const copy = copies.find((c) => c.digest === mine);
    if (copy) {
      return {
        duplicate: { status: "duplicate", messageId: copy.id, ack: copy.ack ?? dedupe.ack },
      };
    }
  }
  return { replaced: seen === false ? { record } : { record, digest: digest(seen) } };
}

/**
 * {@link judge} of the key's record as read: nothing to judge against when there is none or it is
 * past its window (this message then replaces it, if any).
 */
export async function judgeRead(
  ctx: StoreContext,
  record: DedupeRecord | null,
  dedupe: AcceptDedupe,
  payload: Uint8Array,
): Promise<{ duplicate?: AcceptResult; replaced?: Replaced }> {
  if (!record || !fresh(ctx, record, dedupe.windowMs)) return {};
  const judged = await judge(ctx, record, dedupe, payload);
  return "duplicate" in judged ? { duplicate: judged.duplicate } : { replaced: judged.replaced };
}

/**
 * Whether the message `record` names is this one sent again: always without `sameMessage`;
 * with it, what it says of that message's payload. One no longer stored (kept for less time than
 * the dedupe window) cannot be compared, and is not taken for this one: a message stored twice
 * is delivered twice, one taken for a repeat is lost. Another message: its payload, as read to
 * compare (false when it was not stored any more).
 */
async function isRepeat(
  ctx: StoreContext,
  record: DedupeRecord,
  dedupe: AcceptDedupe,
): Promise<true | false | Uint8Array> {
  if (!dedupe.sameMessage) return true;
  const first = (await ctx.kv.get<MessageRecord>(keys.message(record.messageId))).value;
  if (!first) return false;
  const payload = await readPayload(ctx.kv, first, ctx.dictionaries);
  return dedupe.sameMessage(payload) || payload;
}

/** Whether a dedupe record is still within `windowMs` of its first copy. */
function fresh(ctx: StoreContext, record: DedupeRecord, windowMs: number): boolean {
  return within(ctx, record.at ?? idTime(record.messageId), windowMs);
}

/** Whether a message first stored at `at` (ms) is still within `windowMs` of it. */
function within(ctx: StoreContext, at: number, windowMs: number): boolean {
  return !(ctx.now() - at >= windowMs);
}
