/**
 * Raw HL7 bytes to text by MSH-18, with the configured fallback for unlabelled non-UTF-8 bytes.
 * @module
 */

import { decodeHl7 } from "../../codecs/hl7v2/mod.ts";

/** Decodes a received message; the bytes themselves are what the store keeps. */
export function decodeHl7Bytes(payload: Uint8Array, fallbackCharset: string): string {
  return decodeHl7(payload, { fallbackCharset }).text;
}
