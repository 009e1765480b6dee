/**
 * Bytes as text one to one: byte `b` is the character U+00bb, and back. This is ISO-8859-1 in
 * its original sense, not what `new TextDecoder("latin1")` does: under the WHATWG Encoding
 * standard the labels `latin1` and `iso-8859-1` mean windows-1252, which decodes 0x80-0x9F to
 * characters above U+00FF (0x85 to `…` U+2026, 0x93 to `“` U+201C), so that text cannot give the
 * bytes back. Use these to cut or read byte formats (HL7 batches, X12) with string tools while
 * keeping every byte: offsets in the text are offsets in the bytes.
 *
 * {@link latin1Encode} throws on any character above U+00FF, so a text that did not come from
 * {@link latin1Decode} (or ASCII) can never lose bits silently.
 * @module
 */

/** Bytes per `String.fromCharCode` call: well under any engine's argument limit. */
const CHUNK = 8192;

/** The text whose character `i` is U+0000-U+00FF of byte `i` of `bytes` (one to one). */
export function latin1Decode(bytes: Uint8Array): string {
  if (bytes.length <= CHUNK) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const chunk = bytes.subarray(i, i + CHUNK);
    parts.push(String.fromCharCode.apply(null, chunk as unknown as number[]));
  }
  return parts.join("");
}

/** A character that has no byte: {@link latin1Encode} was given text not made of bytes. */
export class NotLatin1Error extends RangeError {
  /** Offset of the first such character (UTF-16 code unit). */
  readonly offset: number;
  /** Its code unit. */
  readonly codeUnit: number;

  /** The error for code unit `codeUnit` at `offset`. */
  constructor(offset: number, codeUnit: number) {
    super(
      `character U+${codeUnit.toString(16).toUpperCase().padStart(4, "0")} at offset ${offset} ` +
        "has no single byte (text not read with latin1Decode)",
    );
    this.name = "NotLatin1Error";
    this.offset = offset;
    this.codeUnit = codeUnit;
  }
}

/**
 * The bytes of `text`, each character U+0000-U+00FF one byte: the inverse of
 * {@link latin1Decode}. Throws {@link NotLatin1Error} on any character above U+00FF.
 */
export function latin1Encode(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new NotLatin1Error(i, c);
    out[i] = c;
  }
  return out;
}
