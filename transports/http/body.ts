/**
 * Reading a request body with a byte limit: a declared `Content-Length` over the limit is refused
 * before anything is read, and a streamed (chunked) body is cut off the moment it crosses the
 * limit, so an oversized upload never sits in memory. A body that does not arrive in time fails
 * with {@link BodyTimeoutError} (raised by the server, see node_bridge.ts).
 *
 * A body that arrives faster than it is taken in comes as a run of chunks the event loop hands
 * over one after the other, timers waiting: a 24 MB JSON body held the engine's thread ~100 ms
 * at a time (copying, and the caller's depth scan). The reading gives the loop a turn (a timer
 * task, as actors/https_out/time_slice.ts does) every {@link READ_SLICE_MS}; a small body is read
 * before the first.
 * @module
 */

/** How long reading a body may go on before the event loop gets a turn (timers, sockets). */
export const READ_SLICE_MS = 8;

/** Gives the event loop a turn once the current slice of reading is used up. */
class ReadSlicer {
  #since = performance.now();
  async pause(): Promise<void> {
    if (performance.now() - this.#since < READ_SLICE_MS) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    this.#since = performance.now();
  }
}

/** The request body did not arrive within `limits.httpBodyTimeoutSeconds`. */
export class BodyTimeoutError extends Error {
  /** The deadline, in seconds. */
  readonly seconds: number;
  /** A deadline of `seconds` passed. */
  constructor(seconds: number) {
    super(
      `the body was not received within ${seconds} s (limits.httpBodyTimeoutSeconds)`,
    );
    this.name = "BodyTimeoutError";
    this.seconds = seconds;
  }
}

/** Bodies of a declared length up to this are read whole (larger ones chunk by chunk). */
export const WHOLE_READ_MAX = 64 * 1024;

/** The outcome of {@link readLimited}. */
export type LimitedBody =
  | { ok: true; bytes: Uint8Array<ArrayBuffer> }
  | {
    ok: false;
    /** The limit that was crossed, in bytes. */
    limit: number;
    /** The declared `Content-Length` when that alone was over the limit. */
    declared?: number;
    /** Bytes read before the stream was cut off (0 when refused by `Content-Length`). */
    read: number;
  };

/**
 * Reads `request`'s body, at most `limit` bytes: whole when its declared length is small (up to
 * {@link WHOLE_READ_MAX}), into one buffer of the declared length when larger (within the limit),
 * otherwise chunk by chunk, stopping at the first chunk over the limit. Rejects when
 * the client's stream fails (the connection dropped, or {@link BodyTimeoutError}). An absent body
 * reads as zero bytes.
 */
export async function readLimited(
  request: Request,
  limit: number,
  /** Sees each chunk as it arrives (e.g. a streaming check), before the next is read. */
  onChunk?: (chunk: Uint8Array) => void,
): Promise<LimitedBody> {
  const header = request.headers.get("content-length");
  const declared = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  if (declared !== undefined && declared > limit) {
    await request.body?.cancel().catch(() => {});
    return { ok: false, limit, declared, read: 0 };
  }
  if (declared !== undefined && declared <= WHOLE_READ_MAX) {
    // Small and declared: taken whole and seen once. Most such bodies came with their headers
    // and are already here (node_bridge.ts); a stream's reader costs more than the rest.
    const bytes = await request.bytes();
    if (bytes.length > limit) return { ok: false, limit, read: bytes.length };
    onChunk?.(bytes);
    return { ok: true, bytes };
  }
  if (!request.body) return { ok: true, bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  const slicer = new ReadSlicer();
  if (declared !== undefined) {
    // The HTTP layer delivers no more than a declared length (it ends the body there): one
    // buffer of that size holds it, with no copy to join chunks.
    const bytes = new Uint8Array(declared);
    let at = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > declared) {
        await reader.cancel().catch(() => {});
        return { ok: false, limit, read: at + value.length };
      }
      bytes.set(value, at);
      at += value.length;
      onChunk?.(value);
      await slicer.pause();
    }
    return { ok: true, bytes: at === declared ? bytes : bytes.subarray(0, at) };
  }
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.length > limit) {
      await reader.cancel().catch(() => {});
      return { ok: false, limit, read: length + value.length };
    }
    chunks.push(value);
    length += value.length;
    onChunk?.(value);
    await slicer.pause();
  }
  return { ok: true, bytes: joinChunks(chunks, length) };
}

/** `chunks` (of `length` bytes in all) as one array: the only chunk itself, or a copy of them. */
export function joinChunks<T extends ArrayBufferLike>(
  chunks: readonly Uint8Array<T>[],
  length: number,
): Uint8Array<T | ArrayBuffer> {
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}
