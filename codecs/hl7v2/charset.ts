/**
 * Character sets: HL7 messages arrive as bytes whose encoding is named inside them (MSH-18), so
 * MSH-18 is read from the raw bytes (an ASCII-safe scan) before any text exists.
 *
 * HL7 table 0211 names (`ASCII`, `8859/1`..`8859/16`, `ISO IR100`..., `UNICODE`, `UNICODE UTF-8`,
 * `UNICODE UTF-16`, `GB 18030-2000`, `KS X 1001`, `BIG-5`, ...) map to WHATWG labels for
 * `TextDecoder`; WHATWG labels are accepted as well. Note that WHATWG decodes `iso-8859-1` and
 * `us-ascii` as windows-1252 (a superset for printable text).
 *
 * @module
 */

import { Hl7CharsetError } from "./errors.ts";

/** How {@link decodeHl7} chose the charset. */
export type CharsetSource = "bom" | "msh18" | "utf-8" | "fallback";

/** Result of {@link decodeHl7}. */
export interface DecodedHl7 {
  /** The message text. */
  readonly text: string;
  /** WHATWG label of the charset used, e.g. `utf-8`, `iso-8859-1`, `windows-1252`. */
  readonly charset: string;
  /** How the charset was chosen. */
  readonly source: CharsetSource;
  /** MSH-18 (first repetition) as found in the bytes, if any. */
  readonly declared?: string;
}

/** Options of {@link decodeHl7}. */
export interface DecodeOptions {
  /** Charset used when MSH-18 is absent/unknown and the bytes are not UTF-8. Default windows-1252. */
  readonly fallbackCharset?: string;
}

/** Options of {@link encodeHl7}. */
export interface EncodeOptions {
  /** What to do with a character the charset cannot represent: write `?` (default) or throw. */
  readonly unmappable?: "replace" | "throw";
}

const ISO = (n: number) => `iso-8859-${n}`;

/** Normalised HL7 name (upper case, no spaces, `_` or `-`) -> WHATWG label; "ascii" = detect. */
const TABLE_0211: Readonly<Record<string, string>> = {
  ASCII: "ascii",
  ISOIR6: "ascii",
  USASCII: "ascii",
  "8859/1": ISO(1),
  "8859/2": ISO(2),
  "8859/3": ISO(3),
  "8859/4": ISO(4),
  "8859/5": ISO(5),
  "8859/6": ISO(6),
  "8859/7": ISO(7),
  "8859/8": ISO(8),
  "8859/9": ISO(9),
  "8859/10": ISO(10),
  "8859/13": ISO(13),
  "8859/14": ISO(14),
  "8859/15": ISO(15),
  "8859/16": ISO(16),
  ISOIR100: ISO(1),
  ISOIR101: ISO(2),
  ISOIR109: ISO(3),
  ISOIR110: ISO(4),
  ISOIR144: ISO(5),
  ISOIR127: ISO(6),
  ISOIR126: ISO(7),
  ISOIR138: ISO(8),
  ISOIR148: ISO(9),
  ISOIR203: ISO(15),
  ISOIR13: "shift_jis",
  ISOIR14: "ascii",
  ISOIR87: "iso-2022-jp",
  ISOIR159: "iso-2022-jp",
  ISOIR192: "utf-8",
  UNICODE: "utf-8",
  UNICODEUTF8: "utf-8",
  UTF8: "utf-8",
  UNICODEUTF16: "utf-16be",
  UTF16: "utf-16be",
  GB180302000: "gb18030",
  GB18030: "gb18030",
  KSX1001: "euc-kr",
  CNS116431992: "big5",
  BIG5: "big5",
};

function normalise(name: string): string {
  return name.trim().toUpperCase().replace(/[\s_-]/g, "");
}

const ENCODINGS = new Map<string, string>();

/** The decoder's canonical name for a label, cached: every received message asks. */
function encodingOf(label: string): string {
  let name = ENCODINGS.get(label);
  if (name === undefined) {
    name = new TextDecoder(label).encoding;
    ENCODINGS.set(label, name);
  }
  return name;
}

function isDecodable(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
}

/**
 * The WHATWG label for an HL7 (table 0211) or WHATWG charset name; `"ascii"` for the ASCII
 * names (decoded by detection, since senders declaring ASCII often send UTF-8); undefined if
 * unknown.
 */
export function charsetLabel(name: string): string | undefined {
  const hit = TABLE_0211[normalise(name)];
  if (hit !== undefined) return hit;
  const label = name.trim().toLowerCase();
  return label !== "" && isDecodable(label) ? label : undefined;
}

function isLineEnd(b: number | undefined): boolean {
  return b === 13 || b === 10;
}

/** Offset of the first line starting with "MSH" in the first 64 KiB, or -1. */
function findMsh(bytes: Uint8Array): number {
  const limit = Math.min(bytes.length, 65536);
  let p = 0;
  while (p < limit) {
    while (p < limit && (bytes[p] as number) <= 0x20) p++;
    if (bytes[p] === 0x4d && bytes[p + 1] === 0x53 && bytes[p + 2] === 0x48) return p;
    while (p < limit && !isLineEnd(bytes[p])) p++;
  }
  return -1;
}

/** MSH-18 (first repetition, trimmed) read from raw bytes, or undefined. */
export function readMsh18(bytes: Uint8Array): string | undefined {
  const p = findMsh(bytes);
  if (p === -1 || p + 8 > bytes.length) return undefined;
  const fs = bytes[p + 3] as number;
  const rep = bytes[p + 5];
  if (isLineEnd(fs)) return undefined;
  let i = p + 3;
  let seen = 0;
  // MSH-18 starts after the 17th field separator (the one at MSH-1 counts as the first).
  for (; i < bytes.length && !isLineEnd(bytes[i]); i++) {
    if (bytes[i] === fs && ++seen === 17) break;
  }
  if (seen < 17) return undefined;
  let s = "";
  for (let k = i + 1; k < bytes.length; k++) {
    const b = bytes[k] as number;
    if (b === fs || b === rep || isLineEnd(b)) break;
    s += String.fromCharCode(b);
  }
  s = s.trim();
  return s === "" ? undefined : s;
}

const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true });
const UTF8_LENIENT = new TextDecoder("utf-8");

/**
 * UTF-8 text, or undefined if the bytes are not valid UTF-8. The lenient decoder is tried first:
 * the strict one makes a temporary copy as large as the input, which doubles the peak memory of a
 * 30 MiB message. Without a U+FFFD in the result the two decoders agree.
 */
function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  const text = UTF8_LENIENT.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return UTF8_STRICT.decode(bytes); // a genuine U+FFFD in valid UTF-8
  } catch {
    return undefined;
  }
}

function bomOf(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  // No BOM but "M\0" / "\0M": UTF-16 text, where an ASCII scan of MSH-18 cannot work.
  if (bytes[0] === 0x4d && bytes[1] === 0 && bytes[2] === 0x53) return "utf-16le";
  if (bytes[0] === 0 && bytes[1] === 0x4d && bytes[3] === 0x53) return "utf-16be";
  return undefined;
}

/** The text of received message bytes by {@link decodeHl7}, with `fallbackCharset` for unlabelled
 * non-UTF-8 bytes (the bytes themselves are what the store keeps). */
export function decodeHl7Bytes(bytes: Uint8Array, fallbackCharset: string): string {
  return decodeHl7(bytes, { fallbackCharset }).text;
}

/**
 * Decodes message bytes: a BOM wins, then MSH-18 (read from the bytes); when MSH-18 is absent,
 * unknown or says ASCII, the bytes are tried as strict UTF-8 and otherwise decoded with
 * `fallbackCharset` (default windows-1252, which never fails). The same detection applies when
 * MSH-18 says UTF-8 but the bytes are not valid UTF-8, or says UTF-16 of one-byte text: a
 * declaration the bytes contradict is not trusted.
 *
 * @throws {Hl7CharsetError} `UNKNOWN_CHARSET` if the fallback charset is unknown.
 */
export function decodeHl7(bytes: Uint8Array, options: DecodeOptions = {}): DecodedHl7 {
  const bom = bomOf(bytes);
  if (bom !== undefined) {
    return { text: new TextDecoder(bom).decode(bytes), charset: bom, source: "bom" };
  }
  const declared = readMsh18(bytes);
  const withDeclared = declared === undefined ? {} : { declared };
  const label = declared === undefined ? undefined : charsetLabel(declared);
  // The canonical name: WHATWG labels such as "unicode-1-1-utf-8" or "ucs-2" are UTF-8/UTF-16.
  const encoding = label === undefined || label === "ascii" ? undefined : encodingOf(label);
  const unicode = encoding === "utf-8" || encoding === "utf-16le" || encoding === "utf-16be";
  const utf8 = encoding === undefined || unicode ? utf8OrUndefined(bytes) : undefined;
  if (encoding === "utf-8" && utf8 !== undefined) {
    return { text: utf8, charset: "utf-8", source: "msh18", ...withDeclared };
  }
  // A UTF-8 declaration the bytes contradict would turn each bad byte into U+FFFD (data lost);
  // a UTF-16 declaration cannot be true of bytes in which MSH-18 was readable one byte per
  // character (BOM-less UTF-16 was caught above). Both fall through to detection instead.
  if (label !== undefined && encoding !== undefined && !unicode) {
    return {
      text: new TextDecoder(label).decode(bytes),
      charset: label,
      source: "msh18",
      ...withDeclared,
    };
  }
  if (utf8 !== undefined) return { text: utf8, charset: "utf-8", source: "utf-8", ...withDeclared };
  const fallback = options.fallbackCharset ?? "windows-1252";
  const fb = charsetLabel(fallback);
  if (fb === undefined) {
    throw new Hl7CharsetError("UNKNOWN_CHARSET", fallback, `Unknown charset ${fallback}`);
  }
  const use = fb === "ascii" ? "windows-1252" : fb;
  return {
    text: new TextDecoder(use).decode(bytes),
    charset: use,
    source: "fallback",
    ...withDeclared,
  };
}

/** MSH-18 (first repetition) read from message text, or undefined. */
function declaredIn(text: string): string | undefined {
  const m = /(?:^|[\r\n])[\s\ufeff]*MSH([^\r\n])/.exec(text.slice(0, 65536));
  if (m === null) return undefined;
  const fs = m[1] as string;
  const start = m.index + m[0].length - 4;
  const line = text.slice(start, start + 4096).split(/[\r\n]/, 1)[0] ?? "";
  const rep = line[5] ?? "~";
  const v = line.split(fs)[17]?.split(rep)[0]?.trim();
  return v === "" ? undefined : v;
}

/** Reverse maps per label: index = UTF-16 code unit, value = byte, or 0x10000 | lead<<8 | trail. */
const reverseMaps = new Map<string, Int32Array>();

function reverseMap(label: string): Int32Array {
  let map = reverseMaps.get(label);
  if (map !== undefined) return map;
  map = new Int32Array(65536).fill(-1);
  const dec = new TextDecoder(label);
  const single: boolean[] = [];
  for (let b = 255; b >= 0; b--) {
    const s = dec.decode(new Uint8Array([b]));
    single[b] = s.length === 1 && s !== "\ufffd";
    if (single[b]) map[s.charCodeAt(0)] = b;
  }
  if (label === ISO(1)) { for (let c = 0; c < 256; c++) if (map[c] === -1) map[c] = c; }
  // Double-byte charsets: every lead byte that is not a character by itself, with every trail.
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    if (single[lead]) continue;
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      pair[0] = lead;
      pair[1] = trail;
      const s = dec.decode(pair);
      if (s.length === 1 && s !== "\ufffd" && map[s.charCodeAt(0)] === -1) {
        map[s.charCodeAt(0)] = 0x10000 | (lead << 8) | trail;
      }
    }
  }
  reverseMaps.set(label, map);
  return map;
}

function encodeUtf16(text: string, bigEndian: boolean): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 * i] = bigEndian ? c >> 8 : c & 0xff;
    out[2 * i + 1] = bigEndian ? c & 0xff : c >> 8;
  }
  return out;
}

/**
 * Encodes message text to bytes in `charset` (an HL7 or WHATWG name). Without `charset`, MSH-18
 * of the text decides; ASCII, unknown or absent MSH-18 give UTF-8 (the inverse of
 * {@link decodeHl7}'s detection). Single- and double-byte charsets use a reverse map built once
 * from `TextDecoder`.
 *
 * @throws {Hl7CharsetError} `UNKNOWN_CHARSET` for an unknown explicit charset,
 * `UNSUPPORTED_CHARSET` for stateful encodings (ISO-2022-JP), `UNMAPPABLE_CHARACTER` when
 * `unmappable: "throw"` and a character has no encoding.
 */
export function encodeHl7(text: string, charset?: string, options: EncodeOptions = {}): Uint8Array {
  const name = charset ?? declaredIn(text);
  let label = name === undefined ? "utf-8" : charsetLabel(name);
  if (label === undefined) {
    if (charset !== undefined) {
      throw new Hl7CharsetError("UNKNOWN_CHARSET", charset, `Unknown charset ${charset}`);
    }
    label = "utf-8";
  }
  if (label === "utf-8" || label === "ascii") return new TextEncoder().encode(text);
  if (label === "utf-16be" || label === "utf-16le") return encodeUtf16(text, label === "utf-16be");
  if (label.startsWith("iso-2022") || label === "replacement" || label === "x-user-defined") {
    throw new Hl7CharsetError(
      "UNSUPPORTED_CHARSET",
      name ?? label,
      `Cannot encode to ${label}`,
    );
  }
  const map = reverseMap(label);
  const out = new Uint8Array(text.length * 2);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let v = map[c] as number;
    if (v === -1) {
      if (options.unmappable === "throw") {
        const cp = text.codePointAt(i) as number;
        throw new Hl7CharsetError(
          "UNMAPPABLE_CHARACTER",
          name ?? label,
          `U+${
            cp.toString(16).toUpperCase().padStart(4, "0")
          } at offset ${i} has no ${label} encoding`,
        );
      }
      // A surrogate pair is one character: one replacement.
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
      v = 0x3f;
    }
    if (v > 0xffff) {
      out[n++] = (v >> 8) & 0xff;
      out[n++] = v & 0xff;
    } else out[n++] = v;
  }
  return out.slice(0, n);
}
