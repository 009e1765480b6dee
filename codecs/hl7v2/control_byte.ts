/**
 * Where an MLLP control byte (start block 0x0B, end block 0x1C) sits in an HL7 message's bytes:
 * its offset and HL7 path (`PID-5`). Shared by the MLLP intake (its AR names the field) and
 * `send` (which refuses such a message before sending it). Pure: no I/O.
 * @module
 */

/**
 * Charsets whose text holds U+000B and U+001C exactly where the bytes hold 0x0B and 0x1C (every
 * ASCII byte is its own character, never part of another): only in these can the bytes tell
 * the HL7 path of a control byte.
 */
export const ASCII_SAFE_CHARSETS: ReadonlySet<string> = new Set([
  "utf-8",
  "windows-1252",
  "iso-8859-1",
]);

/** Offset of the first MLLP start (0x0B) or end block (0x1C) byte in `payload`, or -1. */
export function firstControlByte(payload: Uint8Array): number {
  const start = payload.indexOf(0x0b);
  const end = payload.indexOf(0x1c);
  return start === -1 ? end : end === -1 ? start : Math.min(start, end);
}

/**
 * The HL7 path (`PID-5`, `OBX[2]-5`, or the segment alone) of the byte at `offset`, read from the
 * bytes (segment IDs and the field separator are ASCII); undefined when it cannot be told.
 */
export function controlByteLocation(payload: Uint8Array, offset: number): string | undefined {
  const separator = payload[3];
  if (separator === undefined) return undefined;
  let start = 0;
  const seen = new Map<string, number>();
  for (let i = 0; i < offset; i++) {
    const b = payload[i];
    if (b !== 0x0d && b !== 0x0a) continue;
    if (i > start) {
      const id = String.fromCharCode(...payload.subarray(start, Math.min(start + 3, i)));
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    start = i + 1;
  }
  if (offset - start < 3) return undefined;
  const id = String.fromCharCode(...payload.subarray(start, start + 3));
  if (!/^[A-Z][A-Z0-9]{2}$/.test(id)) return undefined;
  let fields = 0;
  for (let i = start + 3; i < offset; i++) if (payload[i] === separator) fields++;
  const rep = (seen.get(id) ?? 0) + 1;
  const segment = rep > 1 ? `${id}[${rep}]` : id;
  if (fields === 0) return segment;
  return `${segment}-${id === "MSH" ? fields + 1 : fields}`;
}
