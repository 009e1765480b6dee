/**
 * Safe XML reading for CDA: DTDs and entity declarations are refused before the parser sees the
 * text (no XXE, no entity expansion), nesting depth is bounded, HTML named entities are read as
 * their characters with a warning (see `entities.ts`), and the tree is read with `fast-xml-parser`
 * into plain nodes where every child element is an array.
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";
import { expandHtmlEntities } from "./entities.ts";
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
  // Needed for numeric references. No other name reaches the parser: `expandHtmlEntities` has
  // turned each into numeric references or `&amp;`, so the parser's own short table never applies.
  htmlEntities: true,
});

/** Where the construct opened at `i` by `open` ends (after `close`). */
function skipPast(text: string, i: number, open: string, close: string, what: string): number {
  const end = text.indexOf(close, i + open.length);
  if (end === -1) throw notClosed(what, i);
  return end + close.length;
}

/** Refused here rather than left to the parser, so that it never reads past such a point. */
function notClosed(what: string, at: number): CcdaError {
  return new CcdaError(
    "NOT_XML",
    `The document is not well-formed XML: the ${what} at offset ${at} is never closed`,
  );
}

/**
 * One linear scan of the markup before the parser sees the text (a parser recursing on 100,000
 * nested elements could exhaust the stack before saying anything useful): refuses any
 * declaration (`<!DOCTYPE`, `<!ENTITY`…) and nesting deeper than `maxDepth`. Comments, CDATA
 * sections and processing instructions are skipped whole, and a `>` inside a quoted attribute
 * value does not end its tag, so that neither counts as an element or a declaration (a comment
 * holding `<br>` 300 times, or `<!DOCTYPE` in its words, is no reason to refuse a document).
 * A comment, CDATA section, processing instruction or tag that is never closed is `NOT_XML`.
 * Returns where those comments, CDATA sections and processing instructions are (`[start, end)`, in
 * order): entities inside them are not entities.
 */
function checkMarkup(text: string, maxDepth: number): [number, number][] {
  const verbatim: [number, number][] = [];
  let depth = 0;
  let i = text.indexOf("<");
  while (i !== -1) {
    let next: number;
    if (text.startsWith("<!--", i)) {
      next = skipPast(text, i, "<!--", "-->", "comment");
      verbatim.push([i, next]);
    } else if (text.startsWith("<![CDATA[", i)) {
      next = skipPast(text, i, "<![CDATA[", "]]>", "CDATA section");
      verbatim.push([i, next]);
    } else if (text.startsWith("<?", i)) {
      next = skipPast(text, i, "<?", "?>", "processing instruction");
      verbatim.push([i, next]);
    } else if (text.charCodeAt(i + 1) === 33) { // <! that opens neither a comment nor CDATA
      const word = /^<!\s*([A-Za-z]*)/.exec(text.slice(i, i + 40))?.[1] ?? "";
      throw new CcdaError(
        "DTD_REFUSED",
        `The document declares a DTD (<!${word} at offset ${i}): refused, CDA has none`,
      );
    } else if (text.charCodeAt(i + 1) === 47) { // </
      depth--;
      next = i + 2;
    } else {
      let k = i + 1, quote = 0;
      for (; k < text.length; k++) {
        const c = text.charCodeAt(k);
        if (quote !== 0) {
          if (c === quote) quote = 0;
        } else if (c === 34 || c === 39) quote = c;
        else if (c === 62) break;
      }
      if (k >= text.length) throw notClosed("tag", i);
      if (text.charCodeAt(k - 1) !== 47) depth++;
      if (depth > maxDepth) {
        throw new CcdaError("TOO_DEEP", `Elements are nested deeper than ${maxDepth} levels`);
      }
      next = k + 1;
    }
    i = text.indexOf("<", next);
  }
  return verbatim;
}

/** What {@link readXmlSafe} gives. */
export interface SafeXmlResult {
  /** The document node (its children are the root). */
  readonly root: XmlNode;
  /** Recoverable problems of the text (entities XML does not declare). */
  readonly warnings: string[];
}

/**
 * Parses XML text with DTDs refused. Returns the document node (its children are the root).
 * @throws {CcdaError} `EMPTY`, `TOO_LARGE`, `DTD_REFUSED`, `TOO_DEEP` or `NOT_XML`.
 */
export function parseXmlSafe(text: string, options: SafeXmlOptions = {}): XmlNode {
  return readXmlSafe(text, options).root;
}

/**
 * Parses XML text with DTDs refused, and says what was recovered: HTML named entities (which XML
 * does not declare) are read as their characters, other undeclared names stay as text, and one
 * warning names them all with the line each first appears on.
 * @throws {CcdaError} `EMPTY`, `TOO_LARGE`, `DTD_REFUSED`, `TOO_DEEP` or `NOT_XML`.
 */
export function readXmlSafe(text: string, options: SafeXmlOptions = {}): SafeXmlResult {
  if (typeof text !== "string" || text.trim() === "") {
    throw new CcdaError("EMPTY", "The document is empty");
  }
  const max = options.maxLength ?? 64 * 1024 * 1024;
  if (text.length > max) {
    throw new CcdaError("TOO_LARGE", `The document has ${text.length} characters, over ${max}`);
  }
  const verbatim = checkMarkup(text, options.maxDepth ?? 256);
  const expanded = expandHtmlEntities(text, verbatim);
  const warnings = expanded.warning === undefined ? [] : [expanded.warning];
  try {
    return { root: parser.parse(expanded.text, true) as XmlNode, warnings };
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
