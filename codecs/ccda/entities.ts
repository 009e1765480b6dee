/**
 * HTML named entities in CDA text. XML declares only `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&apos;`,
 * and CDA has no DTD to declare more, yet documents produced by HTML-minded systems carry
 * `&eacute;`, `&nbsp;`… A strict XML reader would refuse them; we read every HTML name (the whole
 * WHATWG list, {@link HTML_ENTITIES}) as the character it stands for, keep any other name as text,
 * and name them all in one warning so that the sender can be told.
 *
 * @module
 */

import { HTML_ENTITIES } from "./html_entities.ts";

/** The entities XML itself declares: the parser reads these. */
const XML_ENTITIES = new Set(["amp", "lt", "gt", "quot", "apos"]);

/** A named reference `&name;` (numeric references start with `#` and are left to the parser). */
const NAMED_REFERENCE = /&([A-Za-z][A-Za-z0-9]*);/g;

/** What {@link expandHtmlEntities} gives. */
export interface ExpandedEntities {
  /** The text with each undeclared name replaced (unchanged when there was none). */
  readonly text: string;
  /** One warning naming every undeclared entity used, or undefined when there was none. */
  readonly warning?: string;
}

/**
 * Replaces each HTML named entity in `text`, outside the `verbatim` ranges (comments, CDATA
 * sections, processing instructions: `[start, end)` offsets in order), by numeric character
 * references, which the XML parser then reads like any other (so that a name standing for `<` or
 * `&` stays text, never markup). A name neither XML nor HTML knows is escaped (`&amp;name;`), so
 * that it reads as the text it was.
 */
export function expandHtmlEntities(
  text: string,
  verbatim: readonly (readonly [number, number])[],
): ExpandedEntities {
  if (!text.includes("&")) return { text };
  const firstLine = new Map<string, number>();
  const parts: string[] = [];
  let copied = 0, line = 1, counted = 0, range = 0;
  for (const m of text.matchAll(NAMED_REFERENCE)) {
    const at = m.index, name = m[1]!;
    while (range < verbatim.length && verbatim[range]![1] <= at) range++;
    if (range < verbatim.length && verbatim[range]![0] <= at) continue;
    if (XML_ENTITIES.has(name)) continue;
    if (!firstLine.has(name)) {
      for (; counted < at; counted++) if (text.charCodeAt(counted) === 10) line++;
      firstLine.set(name, line);
    }
    parts.push(text.slice(copied, at));
    const value = HTML_ENTITIES.get(name);
    // An unknown name is escaped so that it is text whatever names the parser itself knows.
    if (value === undefined) parts.push(`&amp;${name};`);
    else for (const c of value) parts.push(`&#x${c.codePointAt(0)!.toString(16)};`);
    copied = at + m[0].length;
  }
  if (firstLine.size === 0) return { text };
  parts.push(text.slice(copied));
  return { text: parts.join(""), warning: describe(firstLine) };
}

/** The warning: HTML names read, then unknown names kept, each with the line it first appears on. */
function describe(firstLine: ReadonlyMap<string, number>): string {
  const known: string[] = [], unknown: string[] = [];
  for (const [name, line] of firstLine) {
    (HTML_ENTITIES.has(name) ? known : unknown).push(`&${name}; (line ${line})`);
  }
  const said: string[] = [];
  if (known.length > 0) said.push(`read as HTML: ${listed(known)}`);
  if (unknown.length > 0) said.push(`unknown, kept as text: ${listed(unknown)}`);
  return "The document uses entities XML does not declare (a strict XML reader would refuse it); " +
    said.join("; ");
}

/** Names listed in a warning at most, per kind: a hostile document may use thousands. */
const MAX_NAMED = 20;

function listed(names: readonly string[]): string {
  const more = names.length - MAX_NAMED;
  return more > 0 ? `${names.slice(0, MAX_NAMED).join(", ")} and ${more} more` : names.join(", ");
}
