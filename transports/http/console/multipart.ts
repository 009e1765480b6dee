/**
 * A `multipart/form-data` reader (RFC 7578) for the console's forms, in place of the runtime's
 * `Request.formData()`, whose Content-Disposition parsing splits on every `;` and `=`: a file
 * named `a=b;c.hl7` came out as `"a`. Here the parameters are read as RFC 7231 / RFC 6266 say:
 * a quoted-string runs to its closing quote whatever it holds, `\"` and `\\` are escapes, and an
 * RFC 5987 / 8187 `filename*` (`UTF-8''…`) is preferred to `filename` when it can be decoded. A
 * file name keeps its last path segment only (a browser may send `C:\dir\x.hl7`).
 *
 * A backslash before anything but a separator (`"`, `\`, `;`, `=`…) is kept as a backslash, as
 * Go's `mime` package does: old browsers send Windows paths unescaped (`"C:\dir\x.hl7"`), and no
 * sender escapes letters.
 * @module
 */

import { Buffer } from "node:buffer";

/** Parts a form may have (the body's size limit comes first; this bounds the loop). */
const MAX_PARTS = 1000;
/** Largest header block of one part. */
const MAX_PART_HEADER_BYTES = 16 * 1024;
/** RFC 2045 tspecials: the characters a backslash escapes inside a quoted-string. */
const TSPECIALS = new Set(`()<>@,;:\\"/[]?=`);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A media type or disposition's parameters, lower-cased names, first occurrence kept. */
export interface HeaderValue {
  /** What comes before the first `;`, trimmed and lower-cased (`form-data`, `multipart/…`). */
  type: string;
  params: Map<string, string>;
}

/**
 * Reads a header value of the form `type; name=value; name="quoted \"value\""`. Lenient: a
 * parameter without `=` is skipped, an unquoted value runs to the next `;`, an unterminated
 * quoted-string to the end.
 */
export function parseHeaderValue(value: string): HeaderValue {
  const semi = value.indexOf(";");
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = new Map<string, string>();
  let i = semi < 0 ? value.length : semi + 1;
  for (let guard = 0; i < value.length && guard < value.length; guard++) {
    while (i < value.length && /[ \t;]/.test(value[i]!)) i++;
    const eq = value.indexOf("=", i);
    const nextSemi = value.indexOf(";", i);
    if (eq < 0 || (nextSemi >= 0 && nextSemi < eq)) {
      i = nextSemi < 0 ? value.length : nextSemi + 1;
      continue;
    }
    const name = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < value.length && (value[i] === " " || value[i] === "\t")) i++;
    let v = "";
    if (value[i] === '"') {
      for (i++; i < value.length && value[i] !== '"'; i++) {
        const next = value[i + 1];
        if (value[i] === "\\" && next !== undefined && TSPECIALS.has(next)) i++;
        v += value[i];
      }
      i++; // the closing quote
      const after = value.indexOf(";", i);
      i = after < 0 ? value.length : after + 1;
    } else {
      const end = value.indexOf(";", i);
      v = (end < 0 ? value.slice(i) : value.slice(i, end)).trim();
      i = end < 0 ? value.length : end + 1;
    }
    if (TOKEN.test(name) && !params.has(name)) params.set(name, v);
  }
  return { type, params };
}

/**
 * An RFC 8187 ext-value (`UTF-8'en'a%3Db.hl7`, charset UTF-8 or ISO-8859-1) decoded, or
 * undefined when it is not one.
 */
export function decodeExtValue(value: string): string | undefined {
  const m = /^([!#$&+\-^_`{}~0-9A-Za-z]+)'[^']*'(.*)$/s.exec(value);
  if (!m) return undefined;
  const charset = m[1]!.toLowerCase();
  const encoded = m[2]!;
  if (!/^(?:[!#$&+\-.^_`|~0-9A-Za-z]|%[0-9A-Fa-f]{2})*$/.test(encoded)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === "%") {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  if (charset === "utf-8") {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
    } catch {
      return undefined;
    }
  }
  if (charset === "iso-8859-1") return String.fromCharCode(...bytes);
  return undefined;
}

/** The last segment of a path written with `/` or `\`. */
export function lastPathSegment(name: string): string {
  return name.split(/[\\/]/).pop() ?? "";
}

/**
 * A part's file name from its Content-Disposition parameters: `filename*` when it decodes, else
 * `filename`; its last path segment. Undefined when the part is no file (neither is present).
 */
export function partFileName(params: Map<string, string>): string | undefined {
  const extended = params.get("filename*");
  const decoded = extended === undefined ? undefined : decodeExtValue(extended);
  const name = decoded ?? params.get("filename");
  if (name === undefined) return extended === undefined ? undefined : "";
  return lastPathSegment(name);
}

const CRLF = Buffer.from("\r\n");
const HEADERS_END = Buffer.from("\r\n\r\n");

/**
 * The parts of a `multipart/form-data` body, or undefined when it is not one that can be read
 * (no boundary, no closing delimiter, a part without a `form-data` disposition or a name, too
 * many parts). Fields are decoded as UTF-8; a part with a file name becomes a `File`.
 */
export function parseMultipart(body: Uint8Array, contentType: string): FormData | undefined {
  const boundary = parseHeaderValue(contentType).params.get("boundary");
  if (!boundary || boundary.length > 200) return undefined;
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter opens the body or a line of its own (after a preamble).
  let at = bytes.subarray(0, dash.length).equals(dash) ? 0 : bytes.indexOf(delimiter);
  if (at < 0) return undefined;
  if (at > 0) at += 2;
  const form = new FormData();
  const utf8 = new TextDecoder();
  for (let parts = 0;; parts++) {
    let i = at + dash.length;
    if (bytes[i] === 0x2d && bytes[i + 1] === 0x2d) return form; // `--`: the close delimiter
    if (parts >= MAX_PARTS) return undefined;
    while (bytes[i] === 0x20 || bytes[i] === 0x09) i++; // transport padding
    if (!bytes.subarray(i, i + 2).equals(CRLF)) return undefined;
    i += 2;
    let headerEnd: number;
    let contentStart: number;
    if (bytes.subarray(i, i + 2).equals(CRLF)) {
      headerEnd = i;
      contentStart = i + 2;
    } else {
      headerEnd = bytes.indexOf(HEADERS_END, i);
      if (headerEnd < 0 || headerEnd - i > MAX_PART_HEADER_BYTES) return undefined;
      contentStart = headerEnd + 4;
    }
    const next = bytes.indexOf(delimiter, contentStart - 2);
    if (next < 0) return undefined;
    const headers = partHeaders(utf8.decode(bytes.subarray(i, headerEnd)));
    const disposition = parseHeaderValue(headers.get("content-disposition") ?? "");
    const name = disposition.params.get("name");
    if (disposition.type !== "form-data" || name === undefined) return undefined;
    const content = bytes.subarray(Math.min(contentStart, next), next);
    const fileName = partFileName(disposition.params);
    if (fileName === undefined) form.append(name, utf8.decode(content));
    else {
      const type = headers.get("content-type") ?? "application/octet-stream";
      form.append(name, new File([new Uint8Array(content)], fileName, { type }));
    }
    at = next + 2;
  }
}

/** A part's header lines (folded lines joined), lower-cased names, first occurrence kept. */
function partHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  const lines: string[] = [];
  for (const line of block.split("\r\n")) {
    if (/^[ \t]/.test(line) && lines.length > 0) lines[lines.length - 1] += ` ${line.trim()}`;
    else lines.push(line);
  }
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}
