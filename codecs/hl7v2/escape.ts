/**
 * HL7 v2 escape sequences, both ways.
 *
 * Decoding replaces `\F\ \S\ \T\ \R\ \E\` (and `\P\` when a truncation character is declared)
 * by the delimiter they stand for and `\Xhh..\` by the bytes it spells (UTF-8 when the bytes are
 * valid UTF-8, else Latin-1). Formatting and charset sequences (`\H\ \N\ \.br\ \.sp\ \.in\ \.ti\
 * \.sk\ \.fi\ \.nf\ \.ce\ \Cxxyy\ \Mxxyy(zz)\ \Zxx\`) are kept verbatim, because their meaning
 * belongs to the display layer. An escape character that starts no known sequence is kept as a
 * literal (lenient about senders that forget to escape backslashes).
 *
 * Encoding is the exact inverse for every string: `unescapeHl7(escapeHl7(s, d), d) === s`.
 *
 * @module
 */

import type { Hl7Delimiters } from "./delimiters.ts";

const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true });

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function allHex(s: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (!isHex(s.charCodeAt(k))) return false;
  return true;
}

function isDelimiter(ch: string, d: Hl7Delimiters): boolean {
  return ch === d.field || ch === d.component || ch === d.repetition || ch === d.subcomponent ||
    ch === d.truncation;
}

/** `.sp`, `.in`, `.ti`, `.sk` take an optional signed number; `.br .fi .nf .ce` take none. */
function isDotCommand(body: string): boolean {
  const cmd = body.slice(0, 3);
  if (cmd === ".br" || cmd === ".fi" || cmd === ".nf" || cmd === ".ce") return body.length === 3;
  if (cmd !== ".sp" && cmd !== ".in" && cmd !== ".ti" && cmd !== ".sk") return false;
  let k = 3;
  if (k < body.length && (body[k] === "+" || body[k] === "-")) k++;
  for (; k < body.length; k++) {
    const c = body.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Length (both escape characters included) of the formatting/charset escape sequence starting at
 * `i` (where `text[i]` is the escape character), or 0 if there is none. Shared by both directions
 * so that they always agree on what is kept verbatim.
 */
export function formattingLength(text: string, i: number, d: Hl7Delimiters): number {
  const close = text.indexOf(d.escape, i + 1);
  if (close === -1) return 0;
  const len = close - i - 1;
  if (len === 0 || len > 32) return 0;
  const body = text.slice(i + 1, close);
  for (let k = 0; k < body.length; k++) if (isDelimiter(body[k] as string, d)) return 0;
  const head = body[0];
  let ok = false;
  if (len === 1) ok = head === "H" || head === "N";
  else if (head === ".") ok = isDotCommand(body);
  else if (head === "C") ok = len === 5 && allHex(body, 1, 5);
  else if (head === "M") ok = (len === 5 || len === 7) && allHex(body, 1, len);
  else if (head === "Z") {
    ok = true;
    for (let k = 1; k < len; k++) if (!isAlnum(body.charCodeAt(k))) ok = false;
  }
  return ok ? len + 2 : 0;
}

function decodeHex(text: string, from: number, to: number): string {
  const bytes = new Uint8Array((to - from) >> 1);
  for (let k = 0; k < bytes.length; k++) {
    bytes[k] = parseInt(text.slice(from + 2 * k, from + 2 * k + 2), 16);
  }
  try {
    return UTF8_STRICT.decode(bytes);
  } catch {
    // Not UTF-8: the bytes are most likely a single-byte charset, read them as Latin-1.
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return s;
  }
}

/** Replacement for a one-letter delimiter escape, or undefined if the letter is not one. */
function delimiterFor(letter: string, d: Hl7Delimiters): string | undefined {
  switch (letter) {
    case "F":
      return d.field;
    case "S":
      return d.component;
    case "T":
      return d.subcomponent;
    case "R":
      return d.repetition;
    case "E":
      return d.escape;
    case "P":
      return d.truncation;
    default:
      return undefined;
  }
}

/**
 * Decodes the escape sequences of one encoded value (see the module doc for the rules). Text
 * without an escape character is returned as is, without copying.
 */
export function unescapeHl7(text: string, delimiters: Hl7Delimiters): string {
  const esc = delimiters.escape;
  let i = text.indexOf(esc);
  if (i === -1) return text;
  let out = "";
  let last = 0;
  while (i !== -1) {
    const close = text.indexOf(esc, i + 1);
    if (close === -1) break;
    const len = close - i - 1;
    let rep: string | undefined;
    if (len === 1) rep = delimiterFor(text[i + 1] as string, delimiters);
    else if (len >= 3 && (len & 1) === 1 && text[i + 1] === "X" && allHex(text, i + 2, close)) {
      rep = decodeHex(text, i + 2, close);
    }
    if (rep !== undefined) {
      out += text.slice(last, i) + rep;
      last = close + 1;
      i = text.indexOf(esc, last);
      continue;
    }
    const keep = formattingLength(text, i, delimiters);
    // Kept sequences are copied with the surrounding text; a lone escape char is a literal.
    i = text.indexOf(esc, keep > 0 ? i + keep : i + 1);
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Options of {@link escapeHl7}. */
export interface EscapeOptions {
  /**
   * Keep well-formed formatting sequences (`\H\`, `\.br\`, ...) of the value verbatim instead of
   * escaping their escape characters. Default `true`, so that a value read with `get` and written
   * back with `set` keeps its formatting.
   */
  readonly keepFormatting?: boolean;
}

const specialCache = new Map<string, RegExp>();
/** By delimiters object too: a message's (and the standard set) is asked for once per value. */
const specialsOf = new WeakMap<Hl7Delimiters, RegExp>();

function specials(d: Hl7Delimiters): RegExp {
  let re = specialsOf.get(d);
  if (re !== undefined) return re;
  const key = d.field + d.component + d.repetition + d.escape + d.subcomponent +
    (d.truncation ?? "");
  re = specialCache.get(key);
  if (re === undefined) {
    const chars = key.split("").map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
    // Every C0 control but TAB: CR and LF would end the segment, VT (0x0B) and FS (0x1C) are
    // MLLP's framing bytes, and the others are not allowed in HL7 text (all become \Xhh\).
    re = new RegExp(`[${chars.join("")}\\x00-\\x08\\x0a-\\x1f]`);
    if (specialCache.size > 64) specialCache.clear();
    specialCache.set(key, re);
  }
  specialsOf.set(d, re);
  return re;
}

/** `X00` ... `X1F`: the hex escape bodies of the C0 controls (upper-case hex). */
const CONTROL_ESCAPES: readonly string[] = Array.from(
  { length: 0x20 },
  (_, c) => "X" + c.toString(16).toUpperCase().padStart(2, "0"),
);

/**
 * Escapes a text value so that it can be placed in a field, component or subcomponent: every
 * delimiter becomes its escape sequence, and every C0 control character but TAB its hex escape:
 * CR and LF become `\X0D\` and `\X0A\` (so that a value can never end a segment), MLLP's framing
 * bytes VT and FS `\X0B\` and `\X1C\` (so that the message can be sent over MLLP), and so on.
 * Text without special characters is returned as is.
 */
export function escapeHl7(
  value: string,
  delimiters: Hl7Delimiters,
  options: EscapeOptions = {},
): string {
  if (!specials(delimiters).test(value)) return value;
  const keepFormatting = options.keepFormatting ?? true;
  const d = delimiters;
  const e = d.escape;
  let out = "";
  let last = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    let rep: string | undefined;
    if (ch === e) {
      const keep = keepFormatting ? formattingLength(value, i, d) : 0;
      if (keep > 0) {
        i += keep - 1;
        continue;
      }
      rep = "E";
    } else if (ch === d.field) rep = "F";
    else if (ch === d.component) rep = "S";
    else if (ch === d.subcomponent) rep = "T";
    else if (ch === d.repetition) rep = "R";
    else if (ch === d.truncation) rep = "P";
    else {
      const c = ch.charCodeAt(0);
      if (c < 0x20 && c !== 0x09) rep = CONTROL_ESCAPES[c];
    }
    if (rep !== undefined) {
      out += value.slice(last, i) + e + rep + e;
      last = i + 1;
    }
  }
  return out + value.slice(last);
}
