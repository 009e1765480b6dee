/**
 * The patient identifiers of a stored HL7 v2 message (PID-3), read without parsing the whole
 * message: only its MSH line (for the delimiters) and its first PID line are parsed, so that
 * searching many stored messages by patient stays cheap.
 * @module
 */

import { decodeHl7 } from "./charset.ts";
import { unescapeHl7 } from "./escape.ts";
import { tryParseHl7 } from "./parse.ts";

/** One repetition of PID-3 (CX): the identifier and its assigning authority's parts. */
export interface PatientId {
  /** CX.1, the identifier. */
  id: string;
  /** CX.4.1 (namespace id) and CX.4.2 (universal id) of the assigning authority, when given. */
  authorities: string[];
}

/** First line starting at `from` that begins with `name` + the field separator, or -1. */
function lineStarting(text: string, name: string, from: number): number {
  let i = text.indexOf(name, from);
  while (i !== -1) {
    const before = text.charCodeAt(i - 1);
    if (before === 13 || before === 10) return i;
    i = text.indexOf(name, i + 1);
  }
  return -1;
}

function lineAt(text: string, start: number): string {
  let end = start;
  while (end < text.length && text.charCodeAt(end) !== 13 && text.charCodeAt(end) !== 10) end++;
  return text.slice(start, end);
}

/**
 * Every PID-3 repetition of the message `bytes`, decoded (escapes undone); undefined when the
 * bytes are not an HL7 v2 message or it has no PID segment (a search skips such a message).
 *
 * @example
 * ```ts
 * readPatientIds(new TextEncoder().encode("MSH|^~\\&|A\rPID|1||123^^^HOSP^MR~9^^^NHS"));
 * // [{ id: "123", authorities: ["HOSP"] }, { id: "9", authorities: ["NHS"] }]
 * ```
 */
export function readPatientIds(bytes: Uint8Array): PatientId[] | undefined {
  // A cheap look at the head first, so a large payload of another kind is never decoded whole
  // (NULs dropped: UTF-16 text spells MSH with them).
  const head = String.fromCharCode(...bytes.subarray(0, 64)).replaceAll("\0", "");
  if (!head.includes("MSH")) return undefined;
  let text: string;
  try {
    text = decodeHl7(bytes).text;
  } catch {
    return undefined;
  }
  const msh = text.indexOf("MSH");
  // Only leading whitespace, a BOM or an MLLP start byte may come before MSH.
  if (msh === -1 || text.slice(0, msh).trim().replace(/[\ufeff\v]/g, "") !== "") return undefined;
  const mshLine = lineAt(text, msh);
  const separator = mshLine[3];
  if (separator === undefined) return undefined;
  const pid = lineStarting(text, `PID${separator}`, msh + mshLine.length);
  if (pid === -1) return undefined;
  const parsed = tryParseHl7(`${mshLine}\r${lineAt(text, pid)}`, { minMshFields: 2 });
  if (!parsed.ok) return undefined;
  const message = parsed.message;
  const d = message.delimiters;
  return message.getRepetitions("PID-3", { raw: true }).map((rep) => {
    const components = rep.split(d.component);
    const authority = (components[3] ?? "").split(d.subcomponent);
    return {
      id: unescapeHl7(components[0]?.split(d.subcomponent)[0] ?? "", d),
      authorities: authority.slice(0, 2).filter((a) => a !== "").map((a) => unescapeHl7(a, d)),
    };
  });
}
