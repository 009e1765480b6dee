/**
 * Payloads of any size in KV: small ones inline in the message record, larger ones in chunks that
 * are written (and fsynced) before the record that references them commits. A crash in between
 * leaves chunks with a pending marker that {@link collectOrphanChunks} removes later.
 * @module
 */

import { keys } from "./keys.ts";
import type { MessageRecord } from "./types.ts";
import { withKvRetry } from "./kv.ts";

/** Payloads up to this size live inside the message record (the KV value limit is 64 KiB). */
export const INLINE_MAX = 48 * 1024;
/** Chunk size: under the 64 KiB value limit with room for KV's own framing. */
export const CHUNK_SIZE = 63 * 1024;
/** Chunks per atomic: ~756 KiB, under the 800 KiB atomic limit. */
const CHUNKS_PER_ATOMIC = 12;

/**
 * Writes the chunks of a large payload (nothing for a small one) and returns the fields of the
 * message record that describe it. The caller's commit of the record must also delete
 * `keys.chunkPending(id)`, which marks the chunks as not yet referenced.
 */
export async function writePayload(
  kv: Deno.Kv,
  id: string,
  payload: Uint8Array,
  now: number,
): Promise<Pick<MessageRecord, "size" | "chunks" | "inline">> {
  if (payload.length <= INLINE_MAX) return { size: payload.length, chunks: 0, inline: payload };
  const count = Math.ceil(payload.length / CHUNK_SIZE);
  await withKvRetry(() => kv.set(keys.chunkPending(id), now));
  for (let first = 0; first < count; first += CHUNKS_PER_ATOMIC) {
    const op = kv.atomic();
    for (let i = first; i < Math.min(count, first + CHUNKS_PER_ATOMIC); i++) {
      // subarray: a view, not a copy, so a 30 MiB payload is not held twice.
      op.set(keys.chunk(id, i), payload.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
    }
    await withKvRetry(() => op.commit());
  }
  return { size: payload.length, chunks: count };
}

/** Reads a message's payload back into one buffer. */
export async function readPayload(kv: Deno.Kv, record: MessageRecord): Promise<Uint8Array> {
  if (record.chunks === 0) return record.inline ?? new Uint8Array();
  const out = new Uint8Array(record.size);
  let offset = 0;
  for await (const entry of kv.list<Uint8Array>({ prefix: keys.chunkPrefix(record.id) })) {
    out.set(entry.value, offset);
    offset += entry.value.length;
  }
  if (offset !== record.size) {
    throw new Error(`message ${record.id}: payload has ${offset} of ${record.size} bytes in KV`);
  }
  return out;
}

/** Deletes a message's chunks (after its record is gone). */
export async function deleteChunks(kv: Deno.Kv, id: string): Promise<void> {
  let op = kv.atomic();
  let n = 0;
  for await (const entry of kv.list({ prefix: keys.chunkPrefix(id) })) {
    op.delete(entry.key);
    if (++n % 500 === 0) {
      await withKvRetry(() => op.commit());
      op = kv.atomic();
    }
  }
  op.delete(keys.chunkPending(id));
  await withKvRetry(() => op.commit());
}

/**
 * Removes chunks that a crash left without a message record. A pending marker younger than
 * `graceMs` belongs to a write that may still be in progress and is left alone.
 */
export async function collectOrphanChunks(
  kv: Deno.Kv,
  now: number,
  graceMs = 10 * 60_000,
): Promise<number> {
  let removed = 0;
  for await (const entry of kv.list<number>({ prefix: keys.chunkPendingPrefix })) {
    const id = entry.key[1];
    if (typeof id !== "string" || now - entry.value < graceMs) continue;
    const record = await kv.get(keys.message(id));
    if (record.value === null) {
      await deleteChunks(kv, id);
      removed++;
    } else {
      await kv.delete(entry.key);
    }
  }
  return removed;
}
