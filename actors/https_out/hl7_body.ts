/**
 * The body of a large HL7v2 delivery: the text `decodeHl7` reads from the payload, as UTF-8 (the
 * bytes of `new TextEncoder().encode(decodeHl7(payload, {fallbackCharset}).text)`), made a step
 * at a time between pauses: for a 30 MiB message, decoding and encoding in one go held the
 * engine's thread for 0.2–1 s. The charset is chosen as `decodeHl7` chooses it
 * (codecs/hl7v2/charset.ts): a BOM, then MSH-18, then strict UTF-8, then the fallback charset.
 * Valid UTF-8 without a BOM is its own UTF-8 text, so its bytes go as they are once checked.
 * @module
 */

import { charsetLabel, Hl7CharsetError, readMsh18 } from "../../codecs/hl7v2/mod.ts";
import { TimeSlicer } from "./time_slice.ts";

/** Payload bytes decoded (or checked) per step. */
const STEP_BYTES = 256 * 1024;
/** The payload's bytes are already its UTF-8 text. */
const AS_IS = Symbol("as is");

/**
 * `payload`'s text as UTF-8, as described in the module doc, `stepBytes` (default 256 KiB) of the
 * payload per step. Rejects with `signal`'s reason when it is aborted meanwhile, and with an
 * `Hl7CharsetError` (`UNKNOWN_CHARSET`) where `decodeHl7` throws one (an unknown fallback charset
 * needed).
 */
export async function hl7Utf8(
  payload: Uint8Array,
  options: { fallbackCharset?: string; signal?: AbortSignal; stepBytes?: number } = {},
): Promise<Uint8Array> {
  const slicer = new TimeSlicer(options.signal);
  const step = options.stepBytes ?? STEP_BYTES;
  const fallback = options.fallbackCharset ?? "windows-1252";
  const charset = await chooseCharset(payload, fallback, slicer, step);
  return charset === AS_IS ? payload : await transcode(payload, charset, slicer, step);
}

/** The WHATWG label `decodeHl7` decodes `bytes` with, or {@link AS_IS} for BOM-less UTF-8. */
async function chooseCharset(
  bytes: Uint8Array,
  fallback: string,
  slicer: TimeSlicer,
  step: number,
): Promise<string | typeof AS_IS> {
  const bom = bomOf(bytes);
  if (bom !== undefined) return bom;
  const declared = readMsh18(bytes);
  const label = declared === undefined ? undefined : charsetLabel(declared);
  const encoding = label === undefined || label === "ascii"
    ? undefined
    : new TextDecoder(label).encoding;
  const unicode = encoding === "utf-8" || encoding === "utf-16le" || encoding === "utf-16be";
  const utf8 = encoding === undefined || unicode ? await isUtf8(bytes, slicer, step) : false;
  if (encoding === "utf-8" && utf8) return AS_IS;
  // A declared one-byte or legacy charset is trusted; a Unicode one the bytes contradict is not.
  if (label !== undefined && encoding !== undefined && !unicode) return label;
  if (utf8) return AS_IS;
  const fb = charsetLabel(fallback);
  if (fb === undefined) {
    throw new Hl7CharsetError("UNKNOWN_CHARSET", fallback, `Unknown charset ${fallback}`);
  }
  return fb === "ascii" ? "windows-1252" : fb;
}

/** As `decodeHl7`'s BOM check: a BOM, or the first bytes of BOM-less UTF-16 `MSH`. */
function bomOf(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0x4d && bytes[1] === 0 && bytes[2] === 0x53) return "utf-16le";
  if (bytes[0] === 0 && bytes[1] === 0x4d && bytes[3] === 0x53) return "utf-16be";
  return undefined;
}

/** True when `bytes` are valid UTF-8 (checked a step at a time). */
async function isUtf8(bytes: Uint8Array, slicer: TimeSlicer, step: number): Promise<boolean> {
  const strict = new TextDecoder("utf-8", { fatal: true });
  for (let at = 0; at < bytes.length; at += step) {
    await slicer.pause();
    try {
      strict.decode(bytes.subarray(at, at + step), { stream: true });
    } catch {
      return false;
    }
  }
  try {
    strict.decode(); // a sequence cut off at the end
    return true;
  } catch {
    return false;
  }
}

/**
 * `bytes` decoded with `label` (as one `decode` would: a streaming decoder gives the same text
 * whatever the steps) and encoded as UTF-8 a step at a time, then joined.
 */
async function transcode(
  bytes: Uint8Array,
  label: string,
  slicer: TimeSlicer,
  step: number,
): Promise<Uint8Array> {
  const decoder = new TextDecoder(label);
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let size = 0;
  // A streaming decoder gives whole code points (never half a surrogate pair), so each step's
  // text encodes on its own.
  const encode = (text: string) => {
    if (text === "") return;
    const part = encoder.encode(text);
    parts.push(part);
    size += part.length;
  };
  for (let at = 0; at < bytes.length; at += step) {
    await slicer.pause();
    encode(decoder.decode(bytes.subarray(at, at + step), { stream: true }));
  }
  encode(decoder.decode());
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    await slicer.pause();
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
