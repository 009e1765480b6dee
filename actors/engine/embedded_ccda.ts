/**
 * A C-CDA carried inside an HL7 v2 message (an MDM whose OBX-5 is an ED holding the document, or an
 * RP pointing to it): its document type, which subscriptions' `documentTypes` route by.
 * @module
 */

import { parseCcda } from "../../codecs/ccda/mod.ts";
import type { Hl7Message } from "../../codecs/hl7v2/mod.ts";

const utf8 = new TextDecoder();

/** C-CDA document types by LOINC document code (an RP pointer names its document this way). */
const TYPES_BY_LOINC: Readonly<Record<string, string>> = {
  "34133-9": "CCD",
  "18842-5": "Discharge Summary",
  "57133-1": "Referral Note",
  "11506-3": "Progress Note",
  "11488-4": "Consultation Note",
  "34117-2": "History and Physical",
  "18761-7": "Transfer Summary",
};

/**
 * The document type of a C-CDA carried by an HL7 v2 message: an OBX-5 of type ED holding the
 * document (Base64 or text), read by its templateId; or, for an RP (a pointer: the document is
 * elsewhere), the LOINC code of OBX-3 or TXA-2. Undefined when there is none.
 */
export function embeddedDocumentType(message: Hl7Message): string | undefined {
  const types = message.getAll("OBX-2");
  for (const [i, type] of types.entries()) {
    const n = i + 1;
    if (type === "ED") {
      const encoding = (message.get(`OBX[${n}]-5.4`) ?? "").toUpperCase();
      const data = message.get(`OBX[${n}]-5.5`) ?? "";
      const xml = encoding === "BASE64" ? fromBase64(data) : encoding === "A" ? data : undefined;
      if (xml && /<(\w+:)?ClinicalDocument[\s>]/.test(xml.slice(0, 4096))) {
        try {
          return parseCcda(xml).Meta.DocumentType;
        } catch {
          // Not a readable C-CDA: routed as the message it is, without a document type.
        }
      }
    }
    if (type === "RP") {
      const code = message.get(`OBX[${n}]-3.1`) ?? message.get("TXA-2.1") ?? "";
      const byCode = TYPES_BY_LOINC[code] ?? TYPES_BY_LOINC[message.get("TXA-2.1") ?? ""];
      if (byCode) return byCode;
    }
  }
  return undefined;
}

function fromBase64(data: string): string | undefined {
  try {
    const bin = atob(data.replace(/\s+/g, ""));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** `{documentType}` for routing facts, or nothing. */
export function documentTypeFact(message: Hl7Message): { documentType?: string } {
  const documentType = embeddedDocumentType(message);
  return documentType ? { documentType } : {};
}
