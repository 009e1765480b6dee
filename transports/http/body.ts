/**
 * Reading a request body with a byte limit: a declared `Content-Length` over the limit is refused
 * before anything is read, and a streamed (chunked) body is cut off the moment it crosses the
 * limit, so an oversized upload never sits in memory.
 * @module
 */

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
 * Reads `request`'s body, at most `limit` bytes: whole when its length is declared (and within
 * the limit), otherwise chunk by chunk, stopping at the first chunk over the limit. Rejects when
 * the client's stream fails (the connection dropped). An absent body reads as zero bytes.
 */
export async function readLimited(request: Request, limit: number): Promise<LimitedBody> {
  const header = request.headers.get("content-length");
  const declared = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  if (declared !== undefined && declared > limit) {
    await request.body?.cancel().catch(() => {});
    return { ok: false, limit, declared, read: 0 };
  }
  if (!request.body) return { ok: true, bytes: new Uint8Array(0) };
  // The HTTP layer delivers no more than a declared length (it ends the body there), so such a
  // body is read whole by the fast native path.
  if (declared !== undefined) {
    return { ok: true, bytes: new Uint8Array(await request.arrayBuffer()) };
  }
  const reader = request.body.getReader();
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
  }
  if (chunks.length === 1) return { ok: true, bytes: chunks[0]! };
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { ok: true, bytes };
}
