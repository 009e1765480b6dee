/**
 * Code systems and value conversions of the FHIR tables: HL7 coding systems (CWE-3) ⇄
 * canonical URIs, HL7 tables ⇄ FHIR code systems, identifier systems, and the conversions a
 * table row names (`num`, `code(...)`, `concept(...)`).
 *
 * @module
 */

import { isObject } from "../datamodel/json_path.ts";
import type { CodeTable } from "../datamodel/values.ts";
import { type Binding, outsideBinding } from "./bindings.ts";
import type { Conv } from "./rules.ts";
export type { Conv };

/** Prefix of every URI the engine mints (extensions, local systems). */
export const ENGINE_URN = "urn:x-hl7v2-engine";
/** Extension holding what the HL7 tables did not map (`Extensions.HL7v2`), with HL7 paths. */
export const EXT_HL7V2 = `${ENGINE_URN}:extension:hl7v2`;
/** Extension holding what the FHIR tables did not carry of the data-model object (JSON). */
export const EXT_DATA_MODEL = `${ENGINE_URN}:extension:data-model`;
/** Extension of the MessageHeader naming the data-model event (`Order.Update`). */
export const EXT_DATA_MODEL_EVENT = `${ENGINE_URN}:extension:data-model-event`;
/** A `MessageHeader.eventCoding` system whose codes are data-model events. */
export const DATA_MODEL_EVENT_SYSTEM = `${ENGINE_URN}:data-model-event`;
/** HL7 v2 trigger events (table 0003), the usual `eventCoding` system. */
export const V2_EVENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0003";
/** Identifier systems for assigning authorities without a configured URI. */
export const LOCAL_ID_SYSTEM = `${ENGINE_URN}:id:`;
/** Coding systems without a canonical URI (local codes, `L`, `99ZZZ`). */
export const LOCAL_CODE_SYSTEM = `${ENGINE_URN}:cs:`;
/** UCUM. */
export const UCUM = "http://unitsofmeasure.org";

/** HL7 coding system names (CWE-3, table 0396) and their canonical URIs; the first is written. */
const CODING_SYSTEMS: readonly (readonly [string, string])[] = [
  ["LN", "http://loinc.org"],
  ["SCT", "http://snomed.info/sct"],
  ["SNM", "http://snomed.info/sct"],
  ["SNOMED", "http://snomed.info/sct"],
  ["RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"],
  ["RXN", "http://www.nlm.nih.gov/research/umls/rxnorm"],
  ["CVX", "http://hl7.org/fhir/sid/cvx"],
  ["MVX", "http://hl7.org/fhir/sid/mvx"],
  ["I10", "http://hl7.org/fhir/sid/icd-10-cm"],
  ["ICD10CM", "http://hl7.org/fhir/sid/icd-10-cm"],
  ["I10C", "http://hl7.org/fhir/sid/icd-10-cm"],
  ["I9C", "http://hl7.org/fhir/sid/icd-9-cm"],
  ["I9", "http://hl7.org/fhir/sid/icd-9-cm"],
  ["CPT", "http://www.ama-assn.org/go/cpt"],
  ["C4", "http://www.ama-assn.org/go/cpt"],
  ["NDC", "http://hl7.org/fhir/sid/ndc"],
  ["UCUM", UCUM],
  ["CDCREC", "urn:oid:2.16.840.1.113883.6.238"],
  ["ISO639", "urn:ietf:bcp:47"],
  ["NPI", "http://hl7.org/fhir/sid/us-npi"],
];

const uriOfSystem = new Map<string, string>();
const nameOfUri = new Map<string, string>();
for (const [name, uri] of CODING_SYSTEMS) {
  uriOfSystem.set(name, uri);
  if (!nameOfUri.has(uri)) nameOfUri.set(uri, name);
}

/** The URI of an HL7 coding system name: `LN` → LOINC, `HL70001` → `v2-0001`, else local. */
export function systemUri(name: string): string {
  const known = uriOfSystem.get(name);
  if (known !== undefined) return known;
  const table = /^HL7(\d{4})$/.exec(name);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]}`;
  return LOCAL_CODE_SYSTEM + name;
}

/** The HL7 coding system name of a URI (the inverse of {@link systemUri}). */
export function systemName(uri: string): string {
  const known = nameOfUri.get(uri);
  if (known !== undefined) return known;
  const table = /^http:\/\/terminology\.hl7\.org\/CodeSystem\/v2-(\d{4})$/.exec(uri);
  if (table) return `HL7${table[1]}`;
  return uri.startsWith(LOCAL_CODE_SYSTEM) ? uri.slice(LOCAL_CODE_SYSTEM.length) : uri;
}

/** Identifier systems of well-known assigning authorities (PID-3.4, XCN-9). */
export const DEFAULT_ID_SYSTEMS: Readonly<Record<string, string>> = {
  NPI: "http://hl7.org/fhir/sid/us-npi",
};

/** The SSN system (PID-19; PID-3 identifiers keep their own authority's system). */
export const SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn";

// ---- conversions ---------------------------------------------------------------------------

/** Text as is (non-empty strings only). */
export const str: Conv = {
  toFhir: (v) => (typeof v === "string" && v !== "" ? v : undefined),
  toDm: (v) => (typeof v === "string" ? v : undefined),
};

/** A data-model numeric string (`"13.2"`) ⇄ a FHIR decimal. */
export const num: Conv = {
  toFhir: (v) => {
    if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
    if (typeof v !== "string" || !/^[+-]?(\d+\.?\d*|\.\d+)$/.test(v.trim())) return undefined;
    return Number(v);
  },
  toDm: (v) => (typeof v === "number" ? String(v) : undefined),
};

/** A number ⇄ a FHIR decimal or integer. */
export const number: Conv = {
  toFhir: (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined),
  toDm: (v) => (typeof v === "number" ? v : undefined),
};

/** A positive integer number ⇄ FHIR positiveInt. */
export const positiveInt: Conv = {
  toFhir: (v) => (typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined),
  toDm: (v) => (typeof v === "number" ? v : undefined),
};

/** A boolean. */
export const bool: Conv = {
  toFhir: (v) => (typeof v === "boolean" ? v : undefined),
  toDm: (v) => (typeof v === "boolean" ? v : undefined),
};

const DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** A data-model date (`YYYY[-MM[-DD]]`) ⇄ FHIR date. */
export const date: Conv = {
  toFhir: (v) => (typeof v === "string" && DATE.test(v) ? v : undefined),
  toDm: (v) => (typeof v === "string" ? v : undefined),
};

/** A data-model date or date-time ⇄ FHIR dateTime (FHIR needs seconds with a time). */
export const dateTime: Conv = {
  toFhir: (v) => {
    if (typeof v !== "string") return undefined;
    if (DATE.test(v)) return v;
    if (!DATE_TIME.test(v)) return undefined;
    return /T\d{2}:\d{2}(Z|[+-])/.test(v) ? v.replace(/(T\d{2}:\d{2})/, "$1:00") : v;
  },
  toDm: (v) => (typeof v === "string" ? v : undefined),
};

/** A data-model date-time ⇄ FHIR instant (a date alone is no instant). */
export const instant: Conv = {
  toFhir: (v) => {
    const t = dateTime.toFhir(v, undefined as never);
    return typeof t === "string" && t.includes("T") ? t : undefined;
  },
  toDm: (v) => (typeof v === "string" ? v : undefined),
};

/**
 * A data-model value ⇄ a FHIR code by a table of `[dataModel, fhir]` pairs (first wins). With
 * `required` (the element's required binding), a code outside the binding is refused
 * (`Conv.refuse`) rather than left out.
 */
export function code(
  pairs: readonly (readonly [string | boolean, string])[],
  options: { otherwise?: string; required?: Binding } = {},
): Conv {
  const to = new Map<unknown, string>(), from = new Map<string, string | boolean>();
  for (const [dm, fx] of pairs) {
    if (!to.has(dm)) to.set(dm, fx);
    if (!from.has(fx)) from.set(fx, dm);
  }
  const conv: Conv = {
    toFhir: (v) => to.get(v) ?? options.otherwise,
    toDm: (v) => (typeof v === "string" ? from.get(v) : undefined),
  };
  const binding = options.required;
  if (binding !== undefined) {
    // A required binding: a code outside it is the sender's error, not something to drop. A
    // code of the binding the table has no row for (`unknown`) is still left out.
    conv.refuse = (v) =>
      typeof v === "string" && binding.codes.includes(v) ? undefined : outsideBinding(v, binding);
  }
  return conv;
}

/**
 * A data-model value of an HL7 table (`Spouse`, or a code the table does not know) ⇄ a Coding
 * of that table's FHIR code system (`v2-0063`, `SPO`), through the data model's code table.
 */
export function v2Coding(system: string, table?: CodeTable): Conv {
  return {
    toFhir: (v) => {
      if (typeof v !== "string" && typeof v !== "boolean") return undefined;
      const c = table?.toHl7(v) ?? (typeof v === "string" ? v : undefined);
      if (c === undefined) return undefined;
      return typeof v === "string" && c !== v
        ? { system, code: c, display: v }
        : { system, code: c };
    },
    toDm: (v) => {
      if (!isObject(v) || typeof v.code !== "string") return undefined;
      return table?.toJson(v.code) ?? v.code;
    },
  };
}

/** {@link v2Coding} as a CodeableConcept with one coding. */
export function v2Concept(system: string, table?: CodeTable): Conv {
  const inner = v2Coding(system, table);
  return {
    toFhir: (v, ctx) => {
      const c = inner.toFhir(v, ctx);
      return c === undefined ? undefined : { coding: [c] };
    },
    toDm: (
      v,
      ctx,
    ) => (isObject(v) && Array.isArray(v.coding) ? inner.toDm(v.coding[0], ctx) : undefined),
  };
}

/** An HL7 coding system name ⇄ its URI. */
export const codingSystem: Conv = {
  toFhir: (v) => (typeof v === "string" && v !== "" ? systemUri(v) : undefined),
  toDm: (v) => (typeof v === "string" ? systemName(v) : undefined),
};

/** An assigning authority ⇄ an identifier system (through the context's configuration). */
export const idSystem: Conv = {
  toFhir: (v, ctx) => (typeof v === "string" && v !== "" ? ctx.idSystem(v) : undefined),
  toDm: (v, ctx) => (typeof v === "string" ? ctx.idType(v) : undefined),
};

/** UTF-8 text ⇄ base64 (an attachment's data). */
export const textBase64: Conv = {
  toFhir: (v) => {
    if (typeof v !== "string") return undefined;
    const bytes = new TextEncoder().encode(v);
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin);
  },
  toDm: (v) => {
    if (typeof v !== "string") return undefined;
    try {
      const bin = atob(v);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return undefined;
    }
  },
};

/** HL7 file types (OBX-5.3, ED) ⇄ MIME types. */
export const mimeType: Conv = code([
  ["PDF", "application/pdf"],
  ["JPEG", "image/jpeg"],
  ["JPG", "image/jpeg"],
  ["PNG", "image/png"],
  ["TIFF", "image/tiff"],
  ["GIF", "image/gif"],
  ["HTML", "text/html"],
  ["RTF", "application/rtf"],
  ["TXT", "text/plain"],
  ["XML", "application/xml"],
  ["DOC", "application/msword"],
], { otherwise: "application/octet-stream" });
