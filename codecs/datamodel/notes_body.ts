/**
 * The body of a note, `Note.FileContents`, as Redox carries it: plain text (`Note.ContentType`
 * "Plain Text", or absent) or a base64 file ("Base64 Encoded", with `Note.FileType`). HL7 has no
 * such field: the text is one TX OBX per line and a file one ED OBX, ahead of the note's
 * `Components`. {@link noteBodyToComponents} makes those OBX components before writing;
 * {@link componentsToNoteBody} gives the leading text lines back as `FileContents` after reading.
 * The two are exact inverses, so the `OBX[n]` keys of `Extensions.HL7v2` keep pointing at the
 * same segments.
 *
 * @module
 */

import { isObject, type JsonObject } from "./json_path.ts";

/** `Note.ContentType` of a plain-text body. */
export const PLAIN_TEXT = "Plain Text";
/** `Note.ContentType` of a base64 file. */
export const BASE64_ENCODED = "Base64 Encoded";
/** The content types Redox defines. */
export const NOTE_CONTENT_TYPES: readonly string[] = [PLAIN_TEXT, BASE64_ENCODED];

/** Whether a note's body is a base64 file. */
export function isNoteFile(note: Readonly<Record<string, unknown>>): boolean {
  return note.ContentType === BASE64_ENCODED;
}

/**
 * A copy of `root` whose `Note.FileContents` is turned into leading components: one `{Value}`
 * per line of text, or one `{FileType, FileContents}` for a file. `root` itself is not changed.
 */
export function noteBodyToComponents(root: JsonObject): JsonObject {
  const note = root.Note;
  if (!isObject(note)) return root;
  const body = note.FileContents;
  if (typeof body !== "string" || body === "") return root;
  const { FileContents: _body, ContentType: _type, ...rest } = note;
  const components = Array.isArray(note.Components) ? note.Components : [];
  const lead: JsonObject[] = isNoteFile(note)
    ? [{
      FileContents: body,
      ...(typeof note.FileType === "string" ? { FileType: note.FileType } : {}),
    }]
    : body.split(/\r\n|\r|\n/).map((line) => line === "" ? {} : { Value: line });
  return { ...root, Note: { ...rest, Components: [...lead, ...components] } };
}

/** A component that is only a line of text (what {@link noteBodyToComponents} makes). */
function textLine(c: unknown): string | undefined {
  if (!isObject(c)) return undefined;
  const keys = Object.keys(c);
  if (keys.length === 0) return "";
  if (keys.length === 1 && typeof c.Value === "string" && !/[\r\n]/.test(c.Value)) {
    return c.Value;
  }
  return undefined;
}

/**
 * Moves the leading components of a read note that are bare text lines (an OBX with only
 * OBX-5: no code, no name) into `Note.FileContents` with `ContentType` "Plain Text". Changes
 * `root` in place.
 */
export function componentsToNoteBody(root: JsonObject): void {
  const note = root.Note;
  if (!isObject(note) || !Array.isArray(note.Components)) return;
  const list = note.Components;
  const lines: string[] = [];
  while (lines.length < list.length) {
    const line = textLine(list[lines.length]);
    if (line === undefined) break;
    lines.push(line);
  }
  // A body that is only empty lines is not worth reading as text: leave the components.
  if (lines.length === 0 || lines.every((l) => l === "")) return;
  note.ContentType = PLAIN_TEXT;
  note.FileContents = lines.join("\n");
  list.splice(0, lines.length);
  if (list.length === 0) delete note.Components;
}
