/**
 * Recording a synchronous query (a query) once it is over: the request with its REQUEST log
 * (and its one attempt), the translation actually sent, and the answer with its RESPOND log, all
 * listed under the request as a translation's logs are under its original.
 * @module
 */

import type { Write } from "./group_commit.ts";
import { keys } from "./keys.ts";
import { writePayload } from "./payloads.ts";
import { optional, RECORD_BYTES } from "./records.ts";
import type { Attempt, LogRecord, LogStatus, LogType, MessageRecord, Origin } from "./types.ts";

/** One side of an query recorded with `Store.recordQuery`. */
export interface QueryPart {
  payload: Uint8Array;
  contentType: string;
  controlId?: string;
  messageType?: string;
}

/** A synchronous query to record: see `Store.recordQuery`. */
export interface QueryRecord {
  origin: Origin;
  request: QueryPart;
  /** What was sent instead of the request, when it was translated (an HL7 v2 query). */
  sent?: QueryPart;
  /** The answer, when one came. */
  response?: QueryPart;
  /** Fields both logs carry. */
  log: Pick<LogRecord, "environment" | "sourceId" | "destinationId" | "dataModel" | "eventType">;
  /** SUCCEEDED when the destination answered positively. */
  status: "SUCCEEDED" | "FAILED";
  /** Why it failed, or what the destination said. */
  reason?: string;
  /** The one attempt, as the REQUEST log shows it. */
  attempt: Omit<Attempt, "n">;
}

/** The ids `Store.recordQuery` stored under. */
export interface QueryIds {
  requestId: string;
  requestLogId: string;
  responseId?: string;
  responseLogId?: string;
}

/**
 * The write recording `query` (large payloads' chunks are written first, as for any message),
 * and the ids it stores under.
 */
export async function queryWrite(
  kv: Deno.Kv,
  query: QueryRecord,
  clock: { now: number; newId(): string },
): Promise<{ write: Write; ids: QueryIds }> {
  const { now } = clock;
  const requestId = clock.newId();
  const requestLogId = clock.newId();
  const write: Write = { sets: [], deletes: [], sums: [], bytes: RECORD_BYTES * 4 };
  const put = async (id: string, part: QueryPart, derivedFrom?: string) => {
    const payload = await writePayload(kv, id, part.payload, now);
    const record: MessageRecord = {
      id,
      origin: query.origin,
      receivedAt: now,
      contentType: part.contentType,
      ...payload,
      ...optional({ controlId: part.controlId, messageType: part.messageType, derivedFrom }),
    };
    write.sets!.push({ key: keys.message(id), value: record });
    if (payload.chunks > 0) write.deletes!.push(keys.chunkPending(id));
    write.bytes += payload.inline?.length ?? 0;
  };
  const log = (id: string, messageId: string, type: LogType, status: LogStatus): void => {
    const record: LogRecord = {
      id,
      messageId,
      type,
      status,
      createdAt: now,
      updatedAt: now,
      attempts: type === "REQUEST" ? [{ n: 1, ...query.attempt }] : [],
      attemptCount: type === "REQUEST" ? 1 : 0,
      ...optional({ ...query.log, reason: query.reason }),
    };
    write.sets!.push(
      { key: keys.log(id), value: record },
      { key: keys.logByMessage(requestId, id), value: id },
    );
  };
  await put(requestId, query.request);
  if (query.sent) await put(clock.newId(), query.sent, requestId);
  log(requestLogId, requestId, "REQUEST", query.status);
  if (!query.response) return { write, ids: { requestId, requestLogId } };
  const responseId = clock.newId();
  const responseLogId = clock.newId();
  await put(responseId, query.response, requestId);
  log(responseLogId, responseId, "RESPOND", query.status);
  return { write, ids: { requestId, requestLogId, responseId, responseLogId } };
}
