/**
 * C-CDA (CDA R2, C-CDA 2.1) codec: safe XML reading (DTDs refused: no XXE, no billion laughs),
 * document type by templateId, header and ten sections into a `ClinicalSummary` JSON, and back
 * to a CCD. Pure: no I/O.
 *
 * ```ts
 * const summary = parseCcda(xml); // { Meta: { DocumentType: "CCD" ... }, Patient, Allergies... }
 * const ccd = writeCcd(summary);
 * ```
 *
 * @module
 */

export { CcdaError, type CcdaErrorCode } from "./errors.ts";
export type {
  Address,
  ClinicalEntry,
  ClinicalSummary,
  Code,
  Identifier,
  Observation,
  Party,
  Value,
} from "./model.ts";
export {
  ccdaDocumentType,
  type CcdaReadResult,
  parseCcda,
  type ParseCcdaOptions,
  readCcda,
  readCode,
} from "./read.ts";
export {
  CODE_SYSTEMS,
  codeSystemOid,
  DOCUMENT_TYPES,
  type SectionInfo,
  type SectionKey,
  SECTIONS,
  US_REALM_HEADER,
} from "./vocab.ts";
export { writeCcd } from "./write.ts";
export {
  parseXmlSafe,
  readXmlSafe,
  type SafeXmlOptions,
  type SafeXmlResult,
  type XmlNode,
} from "./xml.ts";
