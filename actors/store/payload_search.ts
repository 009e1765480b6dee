/**
 * Searching received messages by their content (a patient identifier, say) without an index: a
 * bounded scan of the newest logs, newest first, reading each RECEIVE log's payload with the
 * store's own reader (inline, deflated after a dictionary, or chunked) and keeping the logs whose
 * payload the caller's predicate accepts. Both the logs scanned and the payload bytes read are
 * bounded per call; a scan cut short returns the cursor to continue from, as `listLogs` does.
 * @module
 */

import type { DictionarySource } from "./dictionaries.ts";
import { idFloor } from "./ids.ts";
import { keys } from "./keys.ts";
import { getValues } from "./kv.ts";
import { type LogFilter, logMatches, type LogPage } from "./logs.ts";
import { readPayload, readSmallPayloads } from "./payloads.ts";
import type { LogRecord, MessageRecord } from "./types.ts";

/** Logs scanned per call at most by default (as `listLogs` scans). */
export const SEARCH_SCAN_LOGS = 20_000;
/** Payload bytes read per call at most by default (one larger message is still read alone). */
export const SEARCH_SCAN_BYTES = 32 * 1024 * 1024;
/** RECEIVE logs whose messages are read together. */
const BATCH = 100;
/** Payloads up to this size are read together with one KV round trip. */
const SMALL = 64 * 1024;

/** A search of received payloads: see {@link searchPayloads}. */
export interface PayloadSearch {
  /** Which logs to look at (its `type` is ignored: only RECEIVE logs are read). */
  filter: LogFilter;
  /** Whether a received payload is one sought. */
  matches(payload: Uint8Array): boolean;
  /** Logs scanned at most (default {@link SEARCH_SCAN_LOGS}). */
  maxLogs?: number;
  /** Payload bytes read at most (default {@link SEARCH_SCAN_BYTES}). */
  maxBytes?: number;
}

/** A page of matching RECEIVE logs, and how far the scan went. */
export interface PayloadSearchPage extends LogPage {
  /** Logs scanned. */
  scanned: number;
  /** Payload bytes read. */
  bytes: number;
  /** Set when a bound (not the page size) stopped the scan before the oldest log. */
  cut?: "logs" | "bytes";
  /** Messages whose payload could not be read (damaged or gone), skipped. */
  unreadable: number;
}

interface Candidate {
  log: LogRecord;
  /** The log scanned just before this one (newer), where a continuation starts to include it. */
  resumeFrom?: string;
}

/**
 * Newest-first page of RECEIVE logs matching `search.filter` whose payload `search.matches`.
 * Stops at the page size (`next` is the last match), or when `maxLogs` logs were scanned or
 * `maxBytes` payload bytes read (`cut` says which; `next` continues where it stopped).
 */
export async function searchPayloads(
  kv: Deno.Kv,
  dictionaries: DictionarySource,
  search: PayloadSearch,
): Promise<PayloadSearchPage> {
  const filter: LogFilter = { ...search.filter, type: "RECEIVE" };
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
  const maxLogs = search.maxLogs ?? SEARCH_SCAN_LOGS;
  const maxBytes = search.maxBytes ?? SEARCH_SCAN_BYTES;
  const start: Deno.KvKey = [...keys.logPrefix, idFloor(filter.since ?? 0)];
  let end: Deno.KvKey = [
    ...keys.logPrefix,
    filter.until !== undefined ? idFloor(filter.until) : "\uffff",
  ];
  const cursor = filter.cursor?.slice(0, 200);
  if (cursor !== undefined && cursor < String(end[1])) end = [...keys.logPrefix, cursor];
  const page: PayloadSearchPage = { logs: [], scanned: 0, bytes: 0, unreadable: 0 };
  let batch: Candidate[] = [];
  let previous: string | undefined;

  /** Reads a batch in order; true when the page is over (full, or the byte bound reached). */
  const flush = async (): Promise<boolean> => {
    const records =
      (await getValues<MessageRecord>(kv, batch.map((c) => keys.message(c.log.messageId))))
        .map((r) => r ?? undefined);
    const present = records.filter((r): r is MessageRecord => r !== undefined);
    const small = await readSmallPayloads(kv, present, SMALL, dictionaries).catch(() =>
      present.map(() => undefined)
    );
    const smallOf = new Map(present.map((r, i) => [r.id, small[i]]));
    for (const [i, candidate] of batch.entries()) {
      const record = records[i];
      if (!record) {
        page.unreadable++;
        continue;
      }
      if (page.bytes > 0 && page.bytes + record.size > maxBytes) {
        page.cut = "bytes";
        page.next = candidate.resumeFrom;
        return true;
      }
      page.bytes += record.size;
      let payload = smallOf.get(record.id);
      if (payload === undefined) {
        try {
          payload = await readPayload(kv, record, dictionaries);
        } catch {
          page.unreadable++;
          continue;
        }
      }
      if (!search.matches(payload)) continue;
      page.logs.push(candidate.log);
      if (page.logs.length === limit) {
        page.next = candidate.log.id;
        return true;
      }
    }
    batch = [];
    return false;
  };

  for await (const e of kv.list<LogRecord>({ start, end }, { reverse: true, batchSize: 500 })) {
    if (++page.scanned > maxLogs) {
      page.scanned--;
      if (await flush()) return page;
      page.cut = "logs";
      page.next = previous;
      return page;
    }
    if (logMatches(e.value, filter)) {
      batch.push({ log: e.value, resumeFrom: previous });
      if (batch.length === BATCH && await flush()) return page;
    }
    previous = e.value.id;
  }
  await flush();
  return page;
}
