/**
 * Deterministic resource ids: UUID version 5 (RFC 9562, SHA-1 of a namespace and a name), so
 * the same patient, encounter or order gets the same id in every message that names it.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The namespace of every id the engine derives (a fixed random UUID). */
export const ID_NAMESPACE = "5f0c6a1e-8d1b-4b7e-9f3a-2c4d6e8fa0b1";

const nsBytes = hexBytes(ID_NAMESPACE);

function hexBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const encoder = new TextEncoder();

/** UUID v5 of `name` in `namespace` (default {@link ID_NAMESPACE}). */
export function uuidV5(name: string, namespace: string = ID_NAMESPACE): string {
  const ns = namespace === ID_NAMESPACE ? nsBytes : hexBytes(namespace);
  const digest = createHash("sha1").update(ns).update(encoder.encode(name)).digest();
  const b = new Uint8Array(digest.buffer, digest.byteOffset, 16);
  b[6] = ((b[6] as number) & 0x0f) | 0x50;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  let hex = "";
  for (let i = 0; i < 16; i++) hex += (b[i] as number).toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}
