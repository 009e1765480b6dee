/**
 * File names and types for SFTP: the destination's name template (`{ts}-{id}.{ext}`), content
 * types guessed from a received file's contents and name, the poll pattern (`*`, `?`), and which
 * names are still being written (temporary names are never taken in).
 * @module
 */

import { latin1Decode } from "../text/mod.ts";

/** Placeholders a file name template may use. */
export const TEMPLATE_FIELDS = ["id", "ts", "ext", "name"] as const;

/** Values for a template. */
export interface FileNameFields {
  /** The message id. */
  id: string;
  /** When the message was received, ms since the epoch (stable across retries). */
  receivedAt: number;
  /** The extension, without a dot. */
  ext: string;
  /** The original file name without its extension, or the message id. */
  name: string;
}

/**
 * Throws an Error naming the problem when `template` cannot make safe file names: it must use
 * `{id}` or `{name}`. Only `{id}` makes names unique; with `{name}` alone several messages can get
 * one name and then wait for each other at the destination.
 */
export function checkTemplate(template: string): void {
  if (template.length === 0) throw new Error("fileName template is empty");
  if (/[/\\\0]/.test(template)) {
    throw new Error(`fileName template ${JSON.stringify(template)} must not contain / or \\`);
  }
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(m[1]!)) {
      throw new Error(
        `fileName template ${JSON.stringify(template)} uses {${m[1]}}; known: ${
          TEMPLATE_FIELDS.map((f) => `{${f}}`).join(", ")
        }`,
      );
    }
  }
  // {name} alone is accepted (configs rely on it) although it is not unique: the messages split
  // from one file, and every upload of one name, share it; the deliverer makes them wait in turn.
  if (!/\{(id|name)\}/.test(template)) {
    throw new Error(
      `fileName template ${JSON.stringify(template)} needs {id} (unique per message) or {name} ` +
        `(the original file's name, which several messages can share: they then wait for each ` +
        `other, see the README)`,
    );
  }
}

/** `20260101T120000.123Z`: UTC, sortable, safe in file names. */
export function fileTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "");
}

/** Fills a template checked by {@link checkTemplate}; unsafe characters become `_`. */
export function renderFileName(template: string, fields: FileNameFields): string {
  const values: Record<string, string> = {
    id: fields.id,
    ts: fileTimestamp(fields.receivedAt),
    ext: fields.ext,
    name: fields.name,
  };
  const name = template.replace(/\{(id|ts|ext|name)\}/g, (_, k: string) => safePart(values[k]!));
  // A leading dot would hide the file and look like our own temporary names.
  return name.replace(/^\.+/, "_");
}

function safePart(value: string): string {
  return value.replace(/[^A-Za-z0-9._+=@-]/g, "_").replace(/\.{2,}/g, "_");
}

const EXT_BY_TYPE: Record<string, string> = {
  "application/hl7-v2": "hl7",
  "application/edi-x12": "x12",
  "application/xml": "xml",
  "text/xml": "xml",
  "application/pdf": "pdf",
  "application/json": "json",
  "text/csv": "csv",
  "text/plain": "txt",
};

/** The extension for a message: its original file name's, else one for its content type. */
export function extensionFor(contentType: string, fileName?: string): string {
  const own = fileName ? /\.([A-Za-z0-9]{1,10})$/.exec(fileName)?.[1] : undefined;
  if (own) return own;
  return EXT_BY_TYPE[contentType.split(";")[0]!.trim().toLowerCase()] ?? "bin";
}

/** A file name without folder and extension (for `{name}`). */
export function baseName(fileName: string): string {
  const leaf = fileName.split("/").pop() ?? fileName;
  return leaf.replace(/\.[A-Za-z0-9]{1,10}$/, "");
}

const TYPE_BY_EXT: Record<string, string> = {
  hl7: "application/hl7-v2",
  x12: "application/edi-x12",
  edi: "application/edi-x12",
  xml: "application/xml",
  ccd: "application/xml",
  ccda: "application/xml",
  cda: "application/xml",
  pdf: "application/pdf",
  json: "application/json",
  csv: "text/csv",
  txt: "text/plain",
};

/** True when the bytes begin (after a BOM and blank space) like an HL7v2 message or batch. */
export function looksLikeHl7(bytes: Uint8Array): boolean {
  return /^(MSH|FHS|BHS)[^\r\n\w]/.test(leading(bytes));
}

function leading(bytes: Uint8Array): string {
  return latin1Decode(bytes.subarray(0, 512)).replace(/^\u00ef\u00bb\u00bf/, "").trimStart();
}

/**
 * A content type for a received file: from its first bytes where they are telling (HL7v2, X12,
 * PDF, XML, JSON), else from the name's extension, else `application/octet-stream`.
 */
export function guessContentType(fileName: string, bytes: Uint8Array): string {
  if (looksLikeHl7(bytes)) return "application/hl7-v2";
  const head = leading(bytes);
  if (/^ISA.{100}/s.test(head)) return "application/edi-x12";
  if (head.startsWith("%PDF-")) return "application/pdf";
  if (head.startsWith("<?xml") || /^<[A-Za-z]/.test(head)) return "application/xml";
  const ext = /\.([A-Za-z0-9]{1,10})$/.exec(fileName)?.[1]?.toLowerCase();
  if (ext && TYPE_BY_EXT[ext]) return TYPE_BY_EXT[ext]!;
  if (/^[{[]/.test(head)) return "application/json";
  return "application/octet-stream";
}

/**
 * A matcher for a poll pattern: `*` any run of characters, `?` one character, everything else
 * literal. Hidden names (leading dot) match only a pattern that starts with a dot.
 */
export function globMatcher(pattern: string): (name: string) => boolean {
  if (pattern.length === 0) throw new Error("pattern is empty");
  const source = [...pattern].map((c) =>
    c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("");
  const re = new RegExp(`^${source}$`, "s");
  const hiddenToo = pattern.startsWith(".");
  return (name) => (hiddenToo || !name.startsWith(".")) && re.test(name);
}

/**
 * True for names that are still being written by their sender: hidden names (`.x.part`, as our
 * own deliverer writes) and the usual upload suffixes (`.part`, `.filepart`, `.partial`, `.tmp`,
 * `.upload`). Such files are taken in only once renamed to their final name.
 */
export function isTemporaryName(name: string): boolean {
  const leaf = name.split("/").pop() ?? name;
  return leaf.startsWith(".") || /\.(part|filepart|partial|tmp|upload)$/i.test(leaf);
}

/**
 * The name `.<name>.part` a deliverer writes before renaming to `name`; with `attempt`,
 * `.<name>.<attempt>.part`, a name of that attempt's own.
 */
export function temporaryNameFor(name: string, attempt?: string): string {
  return attempt === undefined ? `.${name}.part` : `.${name}.${attempt}.part`;
}

/** `folder/name`, for a folder given as `.`, `/`, `a/b/` or `/a/b`. */
export function joinPath(folder: string, name: string): string {
  if (folder === "" || folder === ".") return name;
  return folder.endsWith("/") ? `${folder}${name}` : `${folder}/${name}`;
}
