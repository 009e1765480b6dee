/**
 * Safe XML reading for CDA: DTDs and entity declarations are refused before the parser sees the
 * text (no XXE, no entity expansion), nesting depth is bounded, and the tree is read with
 * `fast-xml-parser` into plain nodes where every child element is an array.
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";
import { CcdaError } from "./errors.ts";

/** An element: attributes under `@name`, child elements under their local name, text `#text`. */
export interface XmlNode {
  [key: string]: XmlNode[] | string | undefined;
}

/** Options of {@link parseXmlSafe}. */
export interface SafeXmlOptions {
  /** Largest input in characters (default 64 MiB). */
  readonly maxLength?: number;
  /** Deepest element nesting (default 256). */
  readonly maxDepth?: number;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: true,
  isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
  parseTagValue: false,
  parseAttributeValue: false,
  textNodeName: "#text",
  trimValues: true,
  processEntities: true,
  htmlEntities: true,
});

/**
 * Checks nesting depth with one linear scan (a parser recursing on 100,000 nested elements could
 * exhaust the stack before saying anything useful).
 */
function checkDepth(text: string, maxDepth: number): void {
  let depth = 0;
  for (let i = text.indexOf("<"); i !== -1; i = text.indexOf("<", i + 1)) {
    const next = text.charCodeAt(i + 1);
    if (next === 47) depth--; // </
    else if (next !== 33 && next !== 63) { // not <! or <?
      const close = text.indexOf(">", i);
      if (close === -1) return;
      if (text.charCodeAt(close - 1) !== 47) depth++;
      if (depth > maxDepth) {
        throw new CcdaError("TOO_DEEP", `Elements are nested deeper than ${maxDepth} levels`);
      }
      i = close;
    }
  }
}

/**
 * Parses XML text with DTDs refused. Returns the document node (its children are the root).
 * @throws {CcdaError} `EMPTY`, `TOO_LARGE`, `DTD_REFUSED`, `TOO_DEEP` or `NOT_XML`.
 */
export function parseXmlSafe(text: string, options: SafeXmlOptions = {}): XmlNode {
  if (typeof text !== "string" || text.trim() === "") {
    throw new CcdaError("EMPTY", "The document is empty");
  }
  const max = options.maxLength ?? 64 * 1024 * 1024;
  if (text.length > max) {
    throw new CcdaError("TOO_LARGE", `The document has ${text.length} characters, over ${max}`);
  }
  const dtd = /<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)/i.exec(text);
  if (dtd) {
    throw new CcdaError(
      "DTD_REFUSED",
      `The document declares a DTD (<!${dtd[1]} at offset ${dtd.index}): refused, CDA has none`,
    );
  }
  checkDepth(text, options.maxDepth ?? 256);
  try {
    return parser.parse(text, true) as XmlNode;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new CcdaError("NOT_XML", `The document is not well-formed XML: ${why}`);
  }
}

/** Child elements named `name`. */
export function kids(node: XmlNode | undefined, name: string): XmlNode[] {
  const v = node?.[name];
  return Array.isArray(v) ? v : [];
}

/** The first child element named `name`. */
export function kid(node: XmlNode | undefined, ...path: string[]): XmlNode | undefined {
  let n = node;
  for (const name of path) n = kids(n, name)[0];
  return n;
}

/** An attribute's value. */
export function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@${name}`];
  return typeof v === "string" ? v : undefined;
}

/** The text content of an element (direct text only). */
export function text(node: XmlNode | string | undefined): string | undefined {
  // A leaf element without attributes is read as its text.
  if (typeof node === "string") return node;
  const v = node?.["#text"];
  return typeof v === "string" ? v : undefined;
}

/** Escapes text for XML content and attribute values. */
export function esc(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&apos;",
  );
}
