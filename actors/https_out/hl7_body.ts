/**
 * The body of an HL7v2 delivery: the text `decodeHl7` reads from the payload, as UTF-8, with
 * MSH-18 saying `UNICODE UTF-8` where the bytes sent are not what the payload's MSH-18 describes
 * (codecs/hl7v2/msh18_rewrite.ts: transcoded from another charset or with a BOM removed, or UTF-8
 * whose MSH-18 is absent or names another charset). {@link hl7Utf8InOneGo} makes it in one go, for
 * a small payload; {@link hl7Utf8} makes the same bytes a step at a time between pauses: for a
 * 30 MiB message, decoding and encoding in one go held the engine's thread for 0.2–1 s. The
 * charset is chosen as `decodeHl7` chooses it (codecs/hl7v2/charset.ts): a BOM, then MSH-18, then
 * strict UTF-8, then the fallback charset. Valid UTF-8 without a BOM is its own UTF-8 text, so its
 * bytes go as they are once checked (but for MSH-18).
 * @module
 */

import {
  applyMsh18Edit,
  charsetLabel,
  decodeHl7,
  Hl7CharsetError,
  type Msh18Edit,
  readMsh18,
  utf8LabelEdit,
} from "../../codecs/hl7v2/mod.ts";
import { TimeSlicer } from "./time_slice.ts";

/** Payload bytes decoded (or checked) per step. */
const STEP_BYTES = 256 * 1024;
/** The payload's bytes are already its UTF-8 text. */
const AS_IS = Symbol("as is");

/**
 * `payload`'s text as UTF-8 with MSH-18 labelled, as described in the module doc, in one go: what
 * {@link hl7Utf8} gives a step at a time.
 *
 * @throws {Hl7CharsetError} `UNKNOWN_CHARSET` when an unknown fallback charset is needed.
 */
export function hl7Utf8InOneGo(payload: Uint8Array, fallbackCharset = "windows-1252"): Uint8Array {
  const decoded = decodeHl7(payload, { fallbackCharset });
  const body = new TextEncoder().encode(decoded.text);
  const asIs = decoded.charset === "utf-8" &&
    (decoded.source === "msh18" || decoded.source === "utf-8");
  const edit = utf8LabelEdit(body, {
    transcoded: !asIs,
    nonAscii: body.length !== decoded.text.length,
  });
  return edit === undefined ? body : applyMsh18Edit(body, edit);
}

/**
 * `payload`'s text as UTF-8 with MSH-18 labelled, as described in the module doc, `stepBytes`
 * (default 256 KiB) of the payload per step: the bytes {@link hl7Utf8InOneGo} gives. Rejects with
 * `signal`'s reason when it is aborted meanwhile, and with an `Hl7CharsetError`
 * (`UNKNOWN_CHARSET`) where `decodeHl7` throws one (an unknown fallback charset needed).
 */
export async function hl7Utf8(
  payload: Uint8Array,
  options: { fallbackCharset?: string; signal?: AbortSignal; stepBytes?: number } = {},
): Promise<Uint8Array> {
  const slicer = new TimeSlicer(options.signal);
  const step = options.stepBytes ?? STEP_BYTES;
  const fallback = options.fallbackCharset ?? "windows-1252";
  const chosen = await chooseCharset(payload, fallback, slicer, step);
  const { body, nonAscii } = chosen.charset === AS_IS
    ? { body: payload, nonAscii: chosen.nonAscii }
    : await transcode(payload, chosen.charset, slicer, step);
  const edit = utf8LabelEdit(body, { transcoded: chosen.charset !== AS_IS, nonAscii });
  return edit === undefined ? body : await spliceInSteps(body, edit, slicer, step);
}

/** What {@link chooseCharset} chose. */
type Choice = { charset: string } | { charset: typeof AS_IS; nonAscii: boolean };

/**
 * The WHATWG label `decodeHl7` decodes `bytes` with, or {@link AS_IS} for BOM-less UTF-8 (with
 * whether it holds a byte above 0x7F).
 */
async function chooseCharset(
  bytes: Uint8Array,
  fallback: string,
  slicer: TimeSlicer,
  step: number,
): Promise<Choice> {
  const bom = bomOf(bytes);
  if (bom !== undefined) return { charset: bom };
  const declared = readMsh18(bytes);
  const label = declared === undefined ? undefined : charsetLabel(declared);
  const encoding = label === undefined || label === "ascii"
    ? undefined
    : new TextDecoder(label).encoding;
  const unicode = encoding === "utf-8" || encoding === "utf-16le" || encoding === "utf-16be";
  const utf8 = encoding === undefined || unicode
    ? await utf8Scan(bytes, slicer, step)
    : { valid: false, nonAscii: true };
  const asIs = { charset: AS_IS, nonAscii: utf8.nonAscii } as const;
  if (encoding === "utf-8" && utf8.valid) return asIs;
  // A declared one-byte or legacy charset is trusted; a Unicode one the bytes contradict is not.
  if (label !== undefined && encoding !== undefined && !unicode) return { charset: label };
  if (utf8.valid) return asIs;
  const fb = charsetLabel(fallback);
  if (fb === undefined) {
    throw new Hl7CharsetError("UNKNOWN_CHARSET", fallback, `Unknown charset ${fallback}`);
  }
  return { charset: fb === "ascii" ? "windows-1252" : fb };
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

/**
 * Whether `bytes` are valid UTF-8 (checked a step at a time) and, if so, whether any is above
 * 0x7F: UTF-8 text has as many bytes as UTF-16 units only when it is all ASCII.
 */
async function utf8Scan(
  bytes: Uint8Array,
  slicer: TimeSlicer,
  step: number,
): Promise<{ valid: boolean; nonAscii: boolean }> {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const invalid = { valid: false, nonAscii: true };
  let units = 0;
  for (let at = 0; at < bytes.length; at += step) {
    await slicer.pause();
    try {
      units += strict.decode(bytes.subarray(at, at + step), { stream: true }).length;
    } catch {
      return invalid;
    }
  }
  try {
    units += strict.decode().length; // a sequence cut off at the end
  } catch {
    return invalid;
  }
  return { valid: true, nonAscii: units !== bytes.length };
}

/**
 * `bytes` decoded with `label` (as one `decode` would: a streaming decoder gives the same text
 * whatever the steps) and encoded as UTF-8 a step at a time, then joined; with whether the text
 * holds a character above U+007F.
 */
async function transcode(
  bytes: Uint8Array,
  label: string,
  slicer: TimeSlicer,
  step: number,
): Promise<{ body: Uint8Array; nonAscii: boolean }> {
  const decoder = new TextDecoder(label);
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let size = 0;
  let units = 0;
  // A streaming decoder gives whole code points (never half a surrogate pair), so each step's
  // text encodes on its own.
  const encode = (text: string) => {
    if (text === "") return;
    const part = encoder.encode(text);
    parts.push(part);
    size += part.length;
    units += text.length;
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
  return { body: out, nonAscii: size !== units };
}

/** `bytes` with `edit` made, copied a step at a time (`applyMsh18Edit`'s bytes). */
async function spliceInSteps(
  bytes: Uint8Array,
  edit: Msh18Edit,
  slicer: TimeSlicer,
  step: number,
): Promise<Uint8Array> {
  const head = applyMsh18Edit(bytes.subarray(0, edit.end), edit);
  const out = new Uint8Array(head.length + bytes.length - edit.end);
  out.set(head);
  for (let at = edit.end; at < bytes.length; at += step) {
    await slicer.pause();
    out.set(bytes.subarray(at, Math.min(at + step, bytes.length)), head.length + at - edit.end);
  }
  return out;
}
