/**
 * What goes in the body of a delivery: FHIR as `application/fhir+json`, JSON as `application/json`, HL7v2 as UTF-8 text (decoded by
 * MSH-18, or the fallback charset for unlabelled non-UTF-8 bytes) whose MSH-18 says
 * `UNICODE UTF-8` where it said something else of those bytes (see hl7_body.ts), anything else as
 * stored. A large HL7v2 payload is decoded and encoded a step at a time, to the same bytes.
 * @module
 */

import type { MessageRecord } from "../store/types.ts";
import { hl7Utf8, hl7Utf8InOneGo } from "./hl7_body.ts";
import { LARGE_BODY_BYTES } from "./large_body.ts";

/** A body ready to send. */
export interface DeliveryBody {
  contentType: string;
  body: Uint8Array;
}

const FHIR_TYPE = /^application\/fhir\+json\s*(?:;|$)/i;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const HL7_TYPE = /^(?:application|x-application)\/hl7-v2(?:\+er7)?\s*(?:;|$)/i;
const HEADER_VALUE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?:\s*;[\x20-\x7e]*)?$/;

/**
 * The body and content type for `record`'s `payload`. Rejects with `signal`'s reason when it is
 * aborted while a large HL7v2 payload is decoded.
 */
export async function deliveryBody(
  record: Pick<MessageRecord, "contentType">,
  payload: Uint8Array,
  fallbackCharset = "windows-1252",
  signal?: AbortSignal,
): Promise<DeliveryBody> {
  const type = record.contentType;
  // FHIR servers answer 415 to plain JSON: a FHIR bundle keeps its media type.
  if (FHIR_TYPE.test(type)) return { contentType: "application/fhir+json", body: payload };
  if (JSON_TYPE.test(type)) return { contentType: "application/json", body: payload };
  if (HL7_TYPE.test(type)) {
    const body = payload.length < LARGE_BODY_BYTES
      ? hl7Utf8InOneGo(payload, fallbackCharset)
      : await hl7Utf8(payload, { fallbackCharset, ...(signal ? { signal } : {}) });
    return { contentType: "text/plain; charset=utf-8", body };
  }
  return {
    contentType: HEADER_VALUE.test(type) ? type : "application/octet-stream",
    body: payload,
  };
}
