/**
 * Payloads of any size in KV: small ones inline in the message record, larger ones in chunks that
 * are written (and fsynced) before the record that references them commits. A crash in between
 * leaves chunks with a pending marker that {@link collectOrphanChunks} removes later.
 * @module
 */

import { deflateSmaller, deflateWithDictionary, inflateExact } from "./raw_deflate.ts";
import { type Dictionary, type DictionarySource, readDictionary } from "./dictionaries.ts";
import { keys } from "./keys.ts";
import type { MessageRecord } from "./types.ts";
import { getValues, withKvRetry } from "./kv.ts";

/**
 * An inline payload larger than this is stored deflated. SQLite keeps a row of up to ~1,000 bytes
 * (key and record included) in its b-tree page; a larger one spills into an overflow page of its
 * own (4 KiB), which was most of the bytes stored per message. HL7 halves under deflate, so a
 * typical 1–2 KB message stays in the page. Smaller payloads fit as they are.
 */
export const DEFLATE_FROM = 640;

/** The record fields that describe a payload. */
export type PayloadFields = Pick<
  MessageRecord,
  "size" | "chunks" | "inline" | "deflated" | "dictionary"
>;

/**
 * The record fields of a payload stored inline: deflated when that keeps the row small, after
 * `dictionary` when one is given and that is smaller still.
 */
export function inlinePayload(payload: Uint8Array, dictionary?: Dictionary): PayloadFields {
  if (payload.length > DEFLATE_FROM) {
    const primed = dictionary && deflateWithDictionary(payload, dictionary.bytes);
    if (primed) {
      return {
        size: payload.length,
        chunks: 0,
        inline: primed,
        deflated: true,
        dictionary: dictionary.id,
      };
    }
    const packed = deflateSmaller(payload, deflateOptions(payload.length));
    if (packed) return { size: payload.length, chunks: 0, inline: packed, deflated: true };
  }
  return { size: payload.length, chunks: 0, inline: payload };
}

/**
 * Level 3 (as small as 6 on HL7, in less time), with a window that still reaches back over the
 * whole payload (zlib matches up to the window less 262 bytes) and a hash table to match: zlib's
 * state for a 1–2 KB message is ~40 KB instead of ~260 KB, allocated and cleared on every call,
 * for output within a few bytes of the default's. Under the pipeline's load that took ~10 µs a
 * message off the main thread (caches), 6–10 % more delivered. Any window inflates with the
 * default settings.
 */
function deflateOptions(length: number): { level: number; windowBits: number; memLevel: number } {
  const windowBits = Math.max(9, Math.min(15, Math.ceil(Math.log2(length + 262))));
  return { level: 3, windowBits, memLevel: Math.min(8, windowBits - 5) };
}

/** Payloads up to this size live inside the message record (the KV value limit is 64 KiB). */
export const INLINE_MAX = 48 * 1024;
/** Chunk size: under the 64 KiB value limit with room for KV's own framing. */
export const CHUNK_SIZE = 63 * 1024;
/** Chunks per atomic: ~756 KiB, under the 800 KiB atomic limit. */
const CHUNKS_PER_ATOMIC = 12;

/**
 * Largest payload (as stored: deflated when that helps) kept inside the message record. A larger
 * small one goes to a chunk row of its own in the same commit, so that no row passes SQLite's
 * in-page limit and takes an overflow page (see {@link DEFLATE_FROM}).
 */
export const IN_RECORD_MAX = 640;

/**
 * A payload of up to {@link INLINE_MAX} bytes: the record's fields, and the rows to write with
 * the record in the same commit (none when it fits in the record).
 */
export function smallPayload(id: string, payload: Uint8Array, dictionary?: Dictionary): {
  fields: PayloadFields;
  rows: { key: Deno.KvKey; value: Uint8Array }[];
} {
  const fields = inlinePayload(payload, dictionary);
  const stored = fields.inline!;
  if (stored.length <= IN_RECORD_MAX) return { fields, rows: [] };
  const { inline: _, ...rest } = fields;
  return {
    fields: { ...rest, chunks: 1 },
    rows: [{ key: keys.chunk(id, 0), value: stored }],
  };
}

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
): Promise<PayloadFields> {
  if (payload.length <= INLINE_MAX) return inlinePayload(payload);
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

/**
 * Reads a message's payload back into one buffer. A payload deflated after a dictionary takes it
 * from `dictionaries` (by default read from KV each time).
 */
export async function readPayload(
  kv: Deno.Kv,
  record: MessageRecord,
  dictionaries: DictionarySource = kvDictionaries(kv),
): Promise<Uint8Array> {
  const dict = record.dictionary === undefined
    ? undefined
    : await dictionaries.bytes(record.dictionary);
  if (record.chunks === 0) return inlineBytes(record, dict);
  if (record.chunks === 1) {
    // One row (a small payload that did not fit in its record): a point read, not a scan.
    return oneChunk(record, (await kv.get<Uint8Array>(keys.chunk(record.id, 0))).value, dict);
  }
  const out = new Uint8Array(record.size);
  let offset = 0;
  // 16 chunks (~1 MiB) a batch: the default 100 (~6 MiB) held the thread 20-30 ms a batch.
  const chunks = kv.list<Uint8Array>({ prefix: keys.chunkPrefix(record.id) }, { batchSize: 16 });
  for await (const entry of chunks) {
    out.set(entry.value, offset);
    offset += entry.value.length;
  }
  if (offset !== record.size) {
    throw new Error(`message ${record.id}: payload has ${offset} of ${record.size} bytes in KV`);
  }
  return out;
}

/**
 * The payloads of many messages, read together: inline ones decoded, one-chunk ones fetched with
 * one parallel read ({@link getValues}: one KV round trip under load instead of one per message).
 * A payload of several chunks, or larger than `maxBytes`, is left undefined: it is read when
 * needed.
 */
export async function readSmallPayloads(
  kv: Deno.Kv,
  records: readonly MessageRecord[],
  maxBytes: number,
  dictionaries: DictionarySource = kvDictionaries(kv),
): Promise<(Uint8Array | undefined)[]> {
  const out: (Uint8Array | undefined)[] = new Array(records.length);
  const wanted: number[] = [];
  const taken = records.map((r) => r.size <= maxBytes && r.chunks <= 1);
  // Each dictionary once, from memory in the usual case.
  const dicts = new Map<string, Uint8Array>();
  for (const [i, r] of records.entries()) {
    if (taken[i] && r.dictionary !== undefined && !dicts.has(r.dictionary)) {
      dicts.set(r.dictionary, await dictionaries.bytes(r.dictionary));
    }
  }
  const dictOf = (r: MessageRecord) =>
    r.dictionary === undefined ? undefined : dicts.get(r.dictionary);
  records.forEach((r, i) => {
    if (!taken[i]) return;
    if (r.chunks === 0) out[i] = inlineBytes(r, dictOf(r));
    else wanted.push(i);
  });
  const rows = await getValues<Uint8Array>(kv, wanted.map((i) => keys.chunk(records[i]!.id, 0)));
  wanted.forEach((i, j) => (out[i] = oneChunk(records[i]!, rows[j] ?? null, dictOf(records[i]!))));
  return out;
}

/** Reads dictionaries from KV, with nothing kept (for readers without a store). */
function kvDictionaries(kv: Deno.Kv): DictionarySource {
  return { bytes: (id) => readDictionary(kv, id) };
}

function inlineBytes(record: MessageRecord, dict: Uint8Array | undefined): Uint8Array {
  const inline = record.inline ?? new Uint8Array();
  const out = record.deflated ? inflateExact(inline, record.size, dict) : inline;
  if (out.length !== record.size) throw damaged(record, out.length);
  return out;
}

function damaged(record: MessageRecord, length: number): Error {
  return new Error(`message ${record.id}: payload has ${length} of ${record.size} bytes in KV`);
}

/** The payload of a one-chunk record from its chunk row (deflated or not), checked for size. */
function oneChunk(
  record: MessageRecord,
  stored: Uint8Array | null,
  dict: Uint8Array | undefined,
): Uint8Array {
  const out = stored === null
    ? new Uint8Array()
    : record.deflated
    ? inflateExact(stored, record.size, dict)
    : stored;
  if (out.length !== record.size) throw damaged(record, out.length);
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
