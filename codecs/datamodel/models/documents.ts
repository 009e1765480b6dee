/**
 * Notes and Media (MDM^T02): a document (TXA) with its content in OBX segments: text lines
 * for Notes, one encapsulated file for Media.
 *
 * @module
 */

import {
  type Condition,
  constant,
  leaf,
  type ScopeItem,
  segment,
  type SegmentMap,
  setId,
} from "../rules.ts";
import { codes } from "../values.ts";
import { EVN, MSH, PID, providerAt, PV1 } from "./common.ts";

/** HL7 0190 document availability. */
export const AVAILABILITY = codes({
  AV: "Available",
  UN: "Unavailable",
  CA: "Canceled",
  OB: "Obsolete",
});

/** TXA fields common to notes and media, into the object at `at`. */
function txa(at: string, created: string): SegmentMap {
  return segment("TXA", at, [
    setId(),
    leaf("DocumentType", "2"),
    leaf("ServiceDateTime", "4", { t: "datetime" }),
    ...providerAt("Provider", 5),
    leaf(created, "6", { t: "datetime" }),
    leaf("DocumentID", "12"),
    leaf("FileName", "16"),
    leaf("Status", "17"),
    leaf("Availability", "19", { codes: AVAILABILITY }),
  ], { required: true });
}

/**
 * The OBX of a note's embedded file (`Note.ContentType` "Base64 Encoded"). notes_body.ts puts
 * the file in a component of its own before writing; a message read back with an ED OBX is
 * Media (events.ts), so only the writer meets these rules.
 */
const NOTE_FILE: Condition = {
  read: (seg) => seg.text("2") === "ED",
  write: (ctx) => ctx.obj.FileContents !== undefined,
};

const NOTE_TEXT: Condition = {
  read: (seg) => seg.text("2") !== "ED",
  write: (ctx) => ctx.obj.FileContents === undefined,
};

/**
 * MDM_T02 as Notes: each OBX is one component of the note. The plain-text body
 * (`Note.FileContents`) is one TX OBX per line, written before the components (notes_body.ts).
 */
export const NOTES: readonly ScopeItem[] = [
  MSH,
  EVN,
  PID,
  PV1,
  txa("Note", "DocumentationDateTime"),
  segment("OBX", "Note.Components", [
    setId(),
    constant("2", () => "TX", { when: NOTE_TEXT }),
    constant("2", () => "ED", { when: NOTE_FILE }),
    leaf("ID", "3.1"),
    leaf("Name", "3.2"),
    leaf("Value", "5", { when: NOTE_TEXT }),
    leaf("FileType", "5.3", { when: NOTE_FILE }),
    leaf("FileContents", "5.5", { t: "base64", when: NOTE_FILE }),
    constant("5.2", () => "AP", { when: NOTE_FILE }),
    constant("5.4", () => "Base64", { when: NOTE_FILE }),
  ], { many: true }),
];

/** MDM_T02 as Media: one OBX of type ED with the file. */
export const MEDIA: readonly ScopeItem[] = [
  MSH,
  EVN,
  PID,
  PV1,
  txa("Media", "CreationDateTime"),
  segment("OBX", "Media", [
    setId(),
    constant("2", () => "ED"),
    leaf("DocumentDescription", "3.2"),
    leaf("FileType", "5.3"),
    leaf("FileContents", "5.5", { t: "base64" }),
    constant("5.2", () => "AP"),
    constant("5.4", () => "Base64"),
  ], { required: true }),
];
