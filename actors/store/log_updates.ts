/**
 * Reading one log and changing it in place: read, change, write back checked against its
 * versionstamp, and read again when another writer changed it in between (a skip and a recorded
 * attempt may meet).
 * @module
 */

import { keys } from "./keys.ts";
import { applyLogUpdate, type LogUpdate, RECORD_BYTES } from "./records.ts";
import type { StoreContext } from "./store_context.ts";
import type { LogRecord } from "./types.ts";

/** Times a log update is read again after another writer changed the log first. */
export const MAX_LOG_RETRIES = 10;

/** A log by id, or null. */
export async function readLog(kv: Deno.Kv, id: string): Promise<LogRecord | null> {
  return (await kv.get<LogRecord>(keys.log(id))).value;
}

/**
 * Reads, changes and writes back one log, checked against its versionstamp and read again when
 * another writer changed it in between (a skip and a recorded attempt may meet). Null when there
 * is no such log.
 */
export async function changeLog(
  ctx: StoreContext,
  logId: string,
  update: LogUpdate,
): Promise<LogRecord | null> {
  for (let attempt = 1;; attempt++) {
    const current = await ctx.kv.get<LogRecord>(keys.log(logId));
    if (!current.value) return null;
    const log = applyLogUpdate(current.value, update, ctx.now());
    const outcome = await ctx.committer.commit({
      checks: [{ key: current.key, versionstamp: current.versionstamp }],
      sets: [{ key: current.key, value: log }],
      bytes: RECORD_BYTES * 2,
    });
    if (outcome.ok) return log;
    if (attempt === MAX_LOG_RETRIES) throw new Error(`log ${logId} kept changing; not updated`);
  }
}
