/**
 * Large request bodies without holding the engine's one JS thread. Given one `Uint8Array`,
 * `fetch` copies it and writes all of it from the thread's event loop in one go: ~1 s per 100 MB
 * during which no listener, API or actor runs. A `ReadableStream` body would go out in pieces but
 * with `transfer-encoding: chunked` (Deno drops a `content-length` header given with a stream), and
 * receivers may want `content-length`. A `Blob` goes out in pieces (one per part) with
 * `content-length`: {@link wireBody} makes one, a part at a time between pauses. The same bytes, in
 * the same request head, as the `Uint8Array` would have sent.
 *
 * {@link sha256Hex} hashes a body in steps between pauses (for a signature over the body).
 * @module
 */

import { createHash } from "node:crypto";
import { TimeSlicer } from "./time_slice.ts";

/** A body this long or longer is sent as a {@link wireBody} `Blob`; a shorter one as it is. */
export const LARGE_BODY_BYTES = 256 * 1024;
/** Bytes per part of a {@link wireBody} `Blob`: what `fetch` writes in one go. */
export const BODY_PART_BYTES = 256 * 1024;
/** Bytes hashed per step by {@link sha256Hex}. */
const HASH_STEP_BYTES = 256 * 1024;

/**
 * What to hand `fetch` for `body`: `body` itself when shorter than {@link LARGE_BODY_BYTES};
 * otherwise a `Blob` of the same bytes in parts of {@link BODY_PART_BYTES}, made between pauses
 * (each part is a copy, which the `Uint8Array` body had too). Rejects with `signal`'s reason when
 * it is aborted meanwhile.
 */
export async function wireBody(
  body: Uint8Array,
  signal?: AbortSignal,
): Promise<Uint8Array | Blob> {
  if (body.length < LARGE_BODY_BYTES) return body;
  const slicer = new TimeSlicer(signal);
  const parts: Blob[] = [];
  for (let at = 0; at < body.length; at += BODY_PART_BYTES) {
    await slicer.pause();
    parts.push(new Blob([body.subarray(at, at + BODY_PART_BYTES) as Uint8Array<ArrayBuffer>]));
  }
  // A Blob of Blobs refers to their parts: nothing is copied again. No type: no content-type
  // is added (the request's own header says it).
  return new Blob(parts);
}

/**
 * The SHA-256 of `body` in lower-case hex, hashed in steps between pauses. Rejects with
 * `signal`'s reason when it is aborted meanwhile.
 */
export async function sha256Hex(body: Uint8Array, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const slicer = new TimeSlicer(signal);
  for (let at = 0; at < body.length; at += HASH_STEP_BYTES) {
    await slicer.pause();
    hash.update(body.subarray(at, at + HASH_STEP_BYTES));
  }
  return hash.digest("hex");
}
