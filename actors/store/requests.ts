/**
 * What the store's writers hand it and get back: a message to accept, its outcome, a queue head
 * as read (or as an operator looks at it), one destination's share of a routing step.
 * @module
 */

import type { LogRecord, MessageRecord, Origin, QueueEntry } from "./types.ts";
import type { Write } from "./group_commit.ts";

/** How `Store.accept` tells a repeat of a message (see {@link AcceptRequest.dedupe}). */
export interface AcceptDedupe {
  /** The key's namespace (the integration). */
  scope: string;
  /** What a repeat carries again (an HL7 message's MSH-10). */
  key: string;
  /** The answer a repeat gets again; empty: not stored. */
  ack: string;
  /** How long after the first copy a repeat is one; after that the key names a new message. */
  windowMs: number;
  /**
   * Whether the payload of the message stored first under the key is this one sent again.
   * Without it every repeat of the key within the window is a duplicate. With it, a repeat it
   * says is another message (a sender reusing the key) is stored as a new message, which the key
   * names from then on, and the result's `reused` names the earlier one. It is asked only when
   * the key was seen: never for a message the key does not name yet.
   */
  sameMessage?: (earlier: Uint8Array) => boolean;
  /**
   * With `sameMessage`: a digest of a payload's form as `sameMessage` compares it (equal for two
   * payloads it takes for one message). When a message replaces another under the key, the
   * replaced one's digest is kept in the record with its id (only then: a message the key does
   * not name yet, or its repeat, is never digested), so a resend of a message the key named
   * before its current one, within that one's window, is still its duplicate (answered with its
   * id and its ACK) rather than stored again. Without it only the current message is compared.
   */
  digest?: (payload: Uint8Array) => string;
}

/** A message handed to `Store.accept`. */
export interface AcceptRequest {
  /** The inbound actor's queue. */
  queue: string;
  origin: Origin;
  payload: Uint8Array;
  contentType: string;
  controlId?: string;
  messageType?: string;
  fileName?: string;
  sha256?: string;
  /**
   * Remember this message so a repeat within `windowMs` is answered with `ack` again (an empty
   * `ack` is not stored: the caller rebuilds it from the message id the duplicate names).
   */
  dedupe?: AcceptDedupe;
  /**
   * Fields of the RECEIVE log created with the message (`reason`: why it was FILTERED, when
   * `deliveries` is empty).
   */
  log:
    & Pick<
      LogRecord,
      "environment" | "integrationId" | "sourceId" | "type" | "dataModel" | "eventType"
    >
    & Partial<Pick<LogRecord, "reason">>;
  /** The id to store the message under (when translations of it were stored first). */
  messageId?: string;
  /**
   * Routed at once (an API request, whose answer names its SEND logs): instead of an entry in
   * `queue`, the same commit appends one to each delivery's queue with its SEND log, and the
   * RECEIVE log ends SUCCEEDED (FILTERED when the list is empty).
   */
  deliveries?: Delivery[];
  /**
   * With `deliveries`: the translations they send (`Store.prepareDerived`), stored by the same
   * commit, so none is stored without its message and routes.
   */
  derived?: readonly DerivedMessage[];
}

/** The outcome of `Store.accept`. */
export type AcceptResult =
  | {
    status: "stored";
    messageId: string;
    logId: string;
    seq: string;
    /** With `deliveries`: the SEND log of each, in the same order. */
    sendLogIds?: string[];
    /**
     * With `deliveries`: each one's queue entry as committed, with its SEND log and the message it
     * sends (the original with its payload, or a translation from `derived`), for handing to the
     * destination's actor without reading KV back. An entry sending a message stored before the
     * accept is not here: its actor must be woken to read it.
     */
    routed?: QueueItem[];
    /**
     * The message stored earlier under the same dedupe key, which `dedupe.sameMessage` said this
     * one is not (or whose payload was gone): the sender reused the key.
     */
    reused?: string;
  }
  | {
    status: "duplicate";
    /** The message this one is a copy of: the key's current one, or (`dedupe.digest`) an earlier. */
    messageId: string;
    /** That message's first copy's ACK, or the request's own `dedupe.ack` when it was not kept. */
    ack: string;
  };

/** A queue entry as read, with what a later atomic check needs. */
export interface QueueHead {
  queue: string;
  entry: QueueEntry;
  versionstamp: string;
}

/**
 * A queue's first entry as a look that is not its actor's read finds it (`Store.look`): an
 * operator's listing, or the head a skip moves aside. An entry that cannot be read (another
 * version's, or damaged) is left in place and flagged `unreadable`, `entry` holding what could be
 * read of it; `Store.deadLetter` of such a look sets that very entry aside.
 */
export interface QueueLook extends QueueHead {
  unreadable?: {
    /** Why the entry cannot be read. */
    reason: string;
    /** Its key, as found (its seq may not name it). */
    key: Deno.KvKey;
    /** Its raw value. */
    value: unknown;
  };
}

/**
 * A committed queue entry handed to its actor in memory, with what the actor would otherwise read
 * back from KV: the message record, the entry's log, and (when small) the payload.
 */
export interface QueueItem {
  head: QueueHead;
  record: MessageRecord;
  /** The entry's log as committed; null when it must be read (it may have changed). */
  log: LogRecord | null;
  /** The payload, when the sender kept it (large ones are read from KV when sent). */
  payload?: Uint8Array;
}

/** One destination's share of a routing step. */
export interface Delivery {
  queue: string;
  destinationId: string;
  /**
   * The payload to deliver: the original, or a translation prepared with `Store.prepareDerived`
   * for the commit that routes it.
   */
  messageId: string;
  originalId: string;
  log: Pick<
    LogRecord,
    "environment" | "integrationId" | "sourceId" | "dataModel" | "eventType" | "controlId"
  >;
}

/**
 * A translation ready to be stored by the commit that routes it (`Store.prepareDerived`): its id
 * (for the delivery's `messageId`), its record, its payload, and the rows that commit writes for
 * it.
 */
export interface DerivedMessage {
  id: string;
  record: MessageRecord;
  /** The translation itself, for handing its entries over with it (see {@link QueueItem}). */
  payload: Uint8Array;
  rows: Pick<Write, "sets" | "deletes" | "bytes">;
}

/** A delivery's queue entry as the routing commit wrote it, with its SEND log (`Store.routeEntries`). */
export interface RoutedEntry {
  head: QueueHead;
  log: LogRecord;
}
