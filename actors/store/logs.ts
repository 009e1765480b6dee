/**
 * Listing logs with the filters operators use (status, type, data model, destination, time range)
 * and a cursor, the logs of one message, and sweeping logs and messages past their retention.
 * @module
 */

import { idFloor } from "./ids.ts";
import { keys } from "./keys.ts";
import { getValues } from "./kv.ts";
import { deleteChunks } from "./payloads.ts";
import type { LogRecord, LogStatus, LogType, MessageRecord } from "./types.ts";

/** Filters for {@link listLogs}; every given one must hold. */
export interface LogFilter {
  status?: LogStatus;
  type?: LogType;
  dataModel?: string;
  eventType?: string;
  destinationId?: string;
  integrationId?: string;
  /** The MSH-10 control id (exact). */
  controlId?: string;
  /** Only logs created at or after this time (ms). */
  since?: number;
  /** Only logs created before this time (ms). */
  until?: number;
  /** Continue after this log id (the `next` of a previous page). */
  cursor?: string;
  /** Page size, default 50, at most 500. */
  limit?: number;
}

/** A page of logs, newest first, and the cursor for the next page if there is one. */
export interface LogPage {
  logs: LogRecord[];
  next?: string;
}

/** The logs of one message (its RECEIVE log and one SEND log per destination), oldest first. */
export async function logsOfMessage(kv: Deno.Kv, messageId: string): Promise<LogRecord[]> {
  const ids: string[] = [];
  const record = (await kv.get<MessageRecord>(keys.message(messageId))).value;
  const receive = record?.receiveLogId;
  if (receive !== undefined) ids.push(receive);
  // SEND logs made with the message are named by its record; later ones are indexed.
  ids.push(...record?.sendLogIds ?? []);
  for await (const e of kv.list<string>({ prefix: keys.logByMessagePrefix(messageId) })) {
    if (e.value !== receive) ids.push(e.value);
  }
  ids.sort();
  const logs = await getValues<LogRecord>(kv, ids.map(keys.log));
  return logs.filter((l) => l !== null);
}

/** Logs scanned per call at most, so a rare filter cannot make one request unbounded. */
const SCAN_BUDGET = 20_000;

/** Newest-first page of logs matching `filter`. */
export async function listLogs(kv: Deno.Kv, filter: LogFilter = {}): Promise<LogPage> {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
  const start: Deno.KvKey = [...keys.logPrefix, idFloor(filter.since ?? 0)];
  let end: Deno.KvKey = [
    ...keys.logPrefix,
    filter.until !== undefined ? idFloor(filter.until) : "\uffff",
  ];
  // A cursor is a log id; one from a URL may be anything, and a key part over KV's limit fails.
  const cursor = filter.cursor?.slice(0, 200);
  if (cursor !== undefined && cursor < String(end[1])) end = [...keys.logPrefix, cursor];
  const logs: LogRecord[] = [];
  let scanned = 0;
  let lastSeen: string | undefined;
  for await (const e of kv.list<LogRecord>({ start, end }, { reverse: true, batchSize: 500 })) {
    lastSeen = e.value.id;
    if (++scanned > SCAN_BUDGET) return { logs, next: lastSeen };
    if (logMatches(e.value, filter)) {
      logs.push(e.value);
      if (logs.length === limit) return { logs, next: e.value.id };
    }
  }
  return { logs };
}

/** Whether `log` meets every filter of `f` given (its time range and cursor aside). */
export function logMatches(log: LogRecord, f: LogFilter): boolean {
  return (f.status === undefined || log.status === f.status) &&
    (f.type === undefined || log.type === f.type) &&
    (f.dataModel === undefined || log.dataModel === f.dataModel) &&
    (f.eventType === undefined || log.eventType === f.eventType) &&
    (f.destinationId === undefined || log.destinationId === f.destinationId) &&
    (f.integrationId === undefined || log.integrationId === f.integrationId) &&
    (f.controlId === undefined || log.controlId === f.controlId);
}

/**
 * Deletes finished logs and messages older than `retentionMs`. A message with a PENDING log
 * (still queued somewhere) is kept whatever its age.
 */
export async function sweepRetention(
  kv: Deno.Kv,
  now: number,
  retentionMs: number,
): Promise<{ logs: number; messages: number }> {
  const end: Deno.KvKey = [...keys.logPrefix, idFloor(now - retentionMs)];
  let logs = 0;
  for await (const e of kv.list<LogRecord>({ start: keys.logPrefix, end })) {
    if (e.value.status === "PENDING") continue;
    await kv.atomic().check(e).delete(e.key).delete(
      keys.logByMessage(e.value.messageId, e.value.id),
    )
      .commit();
    logs++;
  }
  let messages = 0;
  const msgEnd: Deno.KvKey = ["msg", idFloor(now - retentionMs)];
  for await (const e of kv.list<MessageRecord>({ start: ["msg"], end: msgEnd })) {
    const original = e.value.derivedFrom ?? e.value.id;
    let pending = false;
    const logIds: string[] = [];
    // The RECEIVE log is named by the original's record, not listed under log_by_msg.
    const originalRecord = e.value.derivedFrom
      ? (await kv.get<MessageRecord>(keys.message(original))).value
      : e.value;
    if (originalRecord?.receiveLogId) logIds.push(originalRecord.receiveLogId);
    logIds.push(...originalRecord?.sendLogIds ?? []);
    for await (const l of kv.list<string>({ prefix: keys.logByMessagePrefix(original) })) {
      logIds.push(l.value);
    }
    for (const id of logIds) {
      const log = await kv.get<LogRecord>(keys.log(id));
      if (log.value?.status === "PENDING") pending = true;
    }
    if (pending) continue;
    await kv.delete(e.key);
    if (e.value.chunks > 0) await deleteChunks(kv, e.value.id);
    messages++;
  }
  return { logs, messages };
}
