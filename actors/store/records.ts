/**
 * Building the records the store writes: dropping undefined fields, applying a change to a log,
 * and the rough size of a record for batch sizing.
 * @module
 */

import type { Attempt, LogRecord } from "./types.ts";

/** Attempts kept in full on a log; older ones are only counted. */
export const MAX_ATTEMPTS_KEPT = 50;
/** Rough per-record overhead for batch sizing. */
export const RECORD_BYTES = 1024;

/** A change to a log. */
export interface LogUpdate {
  status?: LogRecord["status"];
  reason?: string;
  dataModel?: string;
  eventType?: string;
  attempt?: Omit<Attempt, "n">;
  deadLetter?: { by: string; reason: string; queue?: string; seq?: string };
}

/** Drops undefined values, so records carry no `undefined` fields into KV. */
export function optional<T extends Record<string, unknown>>(fields: T): Partial<T> {
  const out: Partial<T> = {};
  // for-in, not Object.entries: no array of pairs per record on the accept path.
  for (const k in fields) {
    const v = fields[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** `current` with `update` applied at `now`. */
export function applyLogUpdate(current: LogRecord, update: LogUpdate, now: number): LogRecord {
  const log: LogRecord = { ...current, updatedAt: now };
  if (update.status) log.status = update.status;
  if (update.reason !== undefined) log.reason = update.reason;
  if (update.dataModel !== undefined) log.dataModel = update.dataModel;
  if (update.eventType !== undefined) log.eventType = update.eventType;
  if (update.deadLetter) log.deadLetter = { ...update.deadLetter, at: now };
  if (update.attempt) {
    log.attemptCount = current.attemptCount + 1;
    log.attempts = [...current.attempts, { n: log.attemptCount, ...update.attempt }].slice(
      -MAX_ATTEMPTS_KEPT,
    );
  }
  return log;
}
