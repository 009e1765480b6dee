/**
 * Documents (MDM^T02): a note's text lines or a media file → DocumentReference.
 *
 * @module
 */

import { COMPOSITION_STATUS, DOCUMENT_REFERENCE_STATUS } from "../bindings.ts";
import {
  code,
  dateTime,
  instant,
  LOCAL_ID_SYSTEM,
  mimeType,
  str,
  textBase64,
  v2Concept,
} from "../codes.ts";
import { each, fixed, path, type ResourceMap, type Rule } from "../rules.ts";
import { practitioner, refTo } from "./common.ts";

/** TXA-19 availability (data-model words) ⇄ DocumentReference.status. */
const STATUS = code([
  ["Available", "current"],
  ["Obsolete", "superseded"],
  ["Canceled", "entered-in-error"],
], { required: DOCUMENT_REFERENCE_STATUS });

/** TXA-17 completion status ⇄ DocumentReference.docStatus. */
const DOC_STATUS = code([
  ["AU", "final"],
  ["LA", "final"],
  ["IP", "preliminary"],
  ["DI", "preliminary"],
  ["DO", "preliminary"],
  ["IN", "preliminary"],
  ["PA", "preliminary"],
], { required: COMPOSITION_STATUS });

function txa(created: string): Rule[] {
  return [
    path("DocumentID", `masterIdentifier.value`),
    fixed(
      "masterIdentifier.system",
      (o) => o.DocumentID == null ? undefined : `${LOCAL_ID_SYSTEM}document`,
    ),
    path("Availability", "status", STATUS),
    fixed(
      "status",
      (o) => STATUS.toFhir(o.Availability, never) === undefined ? "current" : undefined,
    ),
    path("Status", "docStatus", DOC_STATUS),
    path("DocumentType", "type", v2Concept("http://terminology.hl7.org/CodeSystem/v2-0270")),
    refTo("subject", "Patient"),
    path(created, "date", instant),
    practitioner("Provider", { fx: "author[0]" }),
    path("ServiceDateTime", "context.period.start", dateTime),
    fixed("context.encounter[0]", (_o, ctx) => {
      const r = ctx.refs.Encounter;
      return r === undefined ? undefined : { reference: r };
    }),
  ];
}

const never = undefined as never;

/** A note (TXA and its OBX text lines) → DocumentReference with one text/plain content each. */
export const NOTE_DOCUMENT: ResourceMap = {
  resourceType: "DocumentReference",
  rules: [
    ...txa("DocumentationDateTime"),
    each("Components", "content", [
      path("Value", "attachment.data", textBase64),
      path("Name", "attachment.title", str),
    ], { fixed: { attachment: { contentType: "text/plain; charset=utf-8" } } }),
  ],
};

/** A media file (TXA and its OBX of type ED) → DocumentReference with the file as content. */
export const MEDIA_DOCUMENT: ResourceMap = {
  resourceType: "DocumentReference",
  rules: [
    ...txa("CreationDateTime"),
    path("DocumentDescription", "description"),
    path("FileType", "content[0].attachment.contentType", mimeType),
    path("FileContents", "content[0].attachment.data"),
    path("FileName", "content[0].attachment.title"),
  ],
};
