/**
 * Deliveries appended to a write: each one's PENDING SEND log and queue entry, added to the
 * commit that accepts or routes the message they send, with the translations they send; and the
 * entries such a commit routed, handed on with what they send.
 * @module
 */

import type { Write } from "./group_commit.ts";
import { boundText, keys, MAX_RECORD_CONTROL_ID } from "./keys.ts";
import { optional, RECORD_BYTES } from "./records.ts";
import type { AcceptRequest, Delivery, DerivedMessage, QueueItem } from "./requests.ts";
import type { StoreSelf } from "./store_context.ts";
import type { LogRecord, MessageRecord, QueueEntry } from "./types.ts";

/** A delivery appended to a write: its queue, its entry and its SEND log. */
export interface Appended {
  queue: string;
  entry: QueueEntry;
  log: LogRecord;
}

/** Adds a prepared translation's rows to the write that routes it. */
export function addRows(write: Write, derived: DerivedMessage): void {
  write.sets!.push(...derived.rows.sets ?? []);
  write.deletes!.push(...derived.rows.deletes ?? []);
  write.bytes += derived.rows.bytes;
}

/**
 * Adds each delivery's SEND log and queue entry to `write` (ids and the config version from
 * `self`, the store); returns them. `options.indexed: false` leaves out the `log_by_msg` rows
 * (the message record names the SEND logs made with it).
 */
export function appendDeliveries(
  self: StoreSelf,
  write: Write,
  deliveries: Delivery[],
  now: number,
  options: { indexed?: boolean } = {},
): Appended[] {
  const out: Appended[] = [];
  for (const d of deliveries) {
    const logId = self.newId();
    const seq = self.newId();
    const log: LogRecord = {
      id: logId,
      messageId: d.originalId,
      type: "SEND",
      status: "PENDING",
      destinationId: d.destinationId,
      actorId: d.queue,
      ...optional({ configVersion: self.configVersion() }),
      createdAt: now,
      updatedAt: now,
      attempts: [],
      attemptCount: 0,
      ...optional(d.log),
      // Queue entries go once delivered: the log keeps which translation was sent.
      ...(d.messageId !== d.originalId ? { deliveredId: d.messageId } : {}),
      // A peer's MSH-10 may be huge: the log keeps a bounded copy, as the message record does.
      ...(d.log.controlId !== undefined
        ? { controlId: boundText(d.log.controlId, MAX_RECORD_CONTROL_ID) }
        : {}),
    };
    const entry: QueueEntry = {
      seq,
      messageId: d.messageId,
      logId,
      enqueuedAt: now,
      destinationId: d.destinationId,
      ...(d.messageId !== d.originalId ? { originalId: d.originalId } : {}),
    };
    write.sets!.push(
      { key: keys.log(logId), value: log },
      { key: keys.queueEntry(d.queue, seq), value: entry },
    );
    if (options.indexed !== false) {
      write.sets!.push({ key: keys.logByMessage(d.originalId, logId), value: logId });
    }
    write.sums!.push({ key: keys.queueDepth(d.queue), n: 1n });
    write.bytes += RECORD_BYTES * 3;
    out.push({ queue: d.queue, entry, log });
  }
  return out;
}

/**
 * The entries an accept routed, each with the message it sends (record and payload): the original
 * or a translation stored by the same commit. An entry sending a message stored earlier is left
 * out: its actor reads it from KV.
 */
export function routedItems(
  appended: readonly Appended[],
  versionstamp: string,
  record: MessageRecord,
  request: AcceptRequest,
): QueueItem[] {
  const out: QueueItem[] = [];
  for (const a of appended) {
    const head = { queue: a.queue, entry: a.entry, versionstamp };
    const id = a.entry.messageId;
    if (id === record.id) out.push({ head, record, log: a.log, payload: request.payload });
    else {
      const sent = request.derived?.find((d) => d.id === id);
      if (sent) out.push({ head, record: sent.record, log: a.log, payload: sent.payload });
    }
  }
  return out;
}
