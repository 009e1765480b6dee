/**
 * What a KV file holds that an operator checks a backup by: its message records and its queue
 * entries (messages waiting for a destination), by queue. Read through `Deno.openKv` on the file,
 * so a count also proves the file opens as a KV (`main.ts backup`, app/backup.ts).
 * @module
 */

import { openKv } from "./kv.ts";

/** The counts {@link countCopy} found. */
export interface CopyCounts {
  /** Message records (`msg` keys), at most {@link MAX_COUNTED}. */
  messages: number;
  /** Queue entries (`q` keys) by queue, at most {@link MAX_COUNTED} in all. */
  queued: Record<string, number>;
  /** How long counting took, ms. */
  ms: number;
}

/** The most entries counted per kind; a count that reaches it means "at least". */
export const MAX_COUNTED = 1_000_000;

/**
 * Counts the messages and queue entries in the KV file `file`. Rejects when the file does not
 * open as a KV or cannot be read.
 */
export async function countCopy(file: string): Promise<CopyCounts> {
  const start = performance.now();
  const kv = await openKv({ path: file });
  try {
    let messages = 0;
    for await (const _ of kv.list({ prefix: ["msg"] }, { batchSize: 1000 })) {
      if (++messages >= MAX_COUNTED) break;
    }
    const queued: Record<string, number> = {};
    let total = 0;
    for await (const e of kv.list({ prefix: ["q"] }, { batchSize: 1000 })) {
      const queue = String(e.key[1]);
      queued[queue] = (queued[queue] ?? 0) + 1;
      if (++total >= MAX_COUNTED) break;
    }
    return { messages, queued, ms: Math.round(performance.now() - start) };
  } finally {
    kv.close();
  }
}
