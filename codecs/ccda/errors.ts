/**
 * Typed errors of the C-CDA codec.
 *
 * @module
 */

/** Why a text was refused as a C-CDA document. */
export type CcdaErrorCode =
  /** The input is empty or not a string. */
  | "EMPTY"
  /** The input is larger than the configured limit. */
  | "TOO_LARGE"
  /**
   * The input declares a DTD or entities (`<!DOCTYPE`, `<!ENTITY`): refused before parsing, so
   * that external entities (XXE) are never fetched and entity expansion (billion laughs) never
   * starts. CDA documents have no DTD.
   */
  | "DTD_REFUSED"
  /** The input is not well-formed XML. */
  | "NOT_XML"
  /** The root element is not an HL7 v3 `ClinicalDocument`. */
  | "NOT_CDA"
  /** Elements are nested deeper than the configured limit. */
  | "TOO_DEEP";

/** A C-CDA document was refused; `code` says why. */
export class CcdaError extends Error {
  /** Machine-readable reason. */
  readonly code: CcdaErrorCode;

  /** Creates an error with a code and a human-readable message. */
  constructor(code: CcdaErrorCode, message: string) {
    super(message);
    this.name = "CcdaError";
    this.code = code;
  }
}
