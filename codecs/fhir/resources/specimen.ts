/**
 * SPM (HL7 v2.5.1+ specimen) ⇄ FHIR Specimen: one table ({@link SPECIMEN_FIELDS}) serves both
 * directions. The data model does not map SPM (it keeps the segment as it came), so this table
 * reads and writes the segment itself, as vxu.ts does for RXA. A field the table does not give
 * back exactly (SPM-1, SPM-3, a CWE without its coding system…) is kept on the Specimen in the
 * `urn:x-hl7v2-engine:extension:hl7v2` extension (`field`, `path` `SPM-n`, raw `value`), so
 * SPM → Specimen → SPM gives the segment back.
 *
 * @module
 */

import { isObject, type JsonObject } from "../../datamodel/json_path.ts";
import { LOCAL_ID_SYSTEM, systemName, systemUri } from "../codes.ts";
import { addExtensions, findExtension, hl7v2Extension, readHl7v2Extension } from "../extensions.ts";
import { readFhir, writeFhir } from "../fhir_path.ts";
import {
  type ConvOptions,
  cwe,
  dtm,
  type FieldConv,
  Seg,
  STD_DELIMITERS,
} from "../segment_fields.ts";

/** R4 has no Specimen.role: the R5 element as a cross-version extension (SPM-11). */
export const SPECIMEN_ROLE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Specimen.role";
/** The core extension for SPM-21 (table 0490). */
export const SPECIMEN_REJECT_REASON =
  "http://hl7.org/fhir/StructureDefinition/specimen-reject-reason";

const ID_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203";

/** A field converter on components of subcomponents (EIP, CQ and DR have subcomponents). */
interface TreeConv {
  toFhir(tree: string[][], o: ConvOptions): unknown;
  toHl7(v: unknown, o: ConvOptions): string[][] | undefined;
}

/** A component-level converter (CWE, DTM) as a tree one. */
function flat(conv: FieldConv): TreeConv {
  return {
    toFhir: (t, o) => conv.toFhir(t.map((c) => c.join("&")), o),
    toHl7: (v, o) => conv.toHl7(v, o)?.map((c) => [c]),
  };
}

function ei(subs: string[] | undefined, type: "PLAC" | "FILL"): JsonObject | undefined {
  const [value, ns] = subs ?? [];
  if (!value) return undefined;
  return {
    type: { coding: [{ system: ID_TYPE_SYSTEM, code: type }] },
    ...(ns ? { system: `${LOCAL_ID_SYSTEM}${ns}` } : {}),
    value,
  };
}

function eiBack(id: unknown): string[] {
  if (!isObject(id) || typeof id.value !== "string") return [];
  const s = typeof id.system === "string" ? id.system : "";
  return s.startsWith(LOCAL_ID_SYSTEM) ? [id.value, s.slice(LOCAL_ID_SYSTEM.length)] : [id.value];
}

function typeCode(id: unknown): unknown {
  return readFhir(id, "type.coding[0].code");
}

/** SPM-2 (EIP: placer EI ^ filler EI) ⇄ identifiers typed PLAC and FILL. */
const specimenId: TreeConv = {
  toFhir: ([placer, filler]) => {
    const ids = [ei(placer, "PLAC"), ei(filler, "FILL")].filter((i) => i !== undefined);
    return ids.length === 0 ? undefined : ids;
  },
  toHl7: (v) => {
    if (!Array.isArray(v)) return undefined;
    const placer = v.find((i) => typeCode(i) === "PLAC") ??
      v.find((i) => typeCode(i) === undefined);
    const filler = v.find((i) => typeCode(i) === "FILL");
    const out = [eiBack(placer), eiBack(filler)];
    return out.every((c) => c.length === 0) ? undefined : out;
  },
};

/** SPM-12 (CQ: quantity ^ units as a CWE in subcomponents) ⇄ collection.quantity (UCUM). */
const amount: TreeConv = {
  toFhir: (tree) => {
    const [[value = ""] = [], [code = "", unit = "", system = ""] = []] = tree;
    if (!/^-?\d+(\.\d+)?$/.test(value)) return undefined;
    const out: JsonObject = { value: Number(value) };
    if (unit || code) out.unit = unit || code;
    if (code) {
      out.system = systemUri(system || "UCUM");
      out.code = code;
    }
    return out;
  },
  toHl7: (v) => {
    if (!isObject(v) || typeof v.value !== "number") return undefined;
    const code = typeof v.code === "string" ? v.code : "";
    const unit = typeof v.unit === "string" ? v.unit : "";
    const system = code !== "" && typeof v.system === "string" ? systemName(v.system) : "";
    return [[String(v.value)], [code, unit === code ? "" : unit, system]];
  },
};

/** SPM-17 (DR: start ^ end) ⇄ collection.collectedDateTime, or collectedPeriod with an end. */
const collected: TreeConv = {
  toFhir: ([[start = ""] = [], [end = ""] = []], o) => {
    const s = dtm.toFhir([start], o), e = dtm.toFhir([end], o);
    if (e === undefined || e === s) return s === undefined ? undefined : { collectedDateTime: s };
    return { collectedPeriod: { ...(s === undefined ? {} : { start: s }), end: e } };
  },
  toHl7: (v, o) => {
    if (!isObject(v)) return undefined;
    if (typeof v.collectedDateTime === "string") {
      const s = dtm.toHl7(v.collectedDateTime, o);
      return s === undefined ? undefined : [s];
    }
    const p = isObject(v.collectedPeriod) ? v.collectedPeriod : undefined;
    if (p === undefined) return undefined;
    const s = dtm.toHl7(p.start, o) ?? [""], e = dtm.toHl7(p.end, o) ?? [""];
    return s[0] === "" && e[0] === "" ? undefined : [s, e];
  },
};

/** SPM-20 availability (Y/N) ⇄ status available / unavailable. */
const availability: FieldConv = {
  toFhir: ([v]) => (v === "Y" ? "available" : v === "N" ? "unavailable" : undefined),
  toHl7: (v) => (v === "available" ? ["Y"] : v === "unavailable" ? ["N"] : undefined),
};

/** A row of the Specimen table; `fx` `extension:<url>` is a CodeableConcept extension. */
interface SpecimenRow {
  readonly hl7: number;
  readonly fx: string;
  readonly conv: TreeConv;
}

/**
 * The Specimen table: SPM field ⇄ FHIR element, read by both directions. Coding systems come
 * from CWE-3 (`SCT` → `http://snomed.info/sct`), else the field's HL7 table (`v2-0487`...).
 */
export const SPECIMEN_FIELDS: readonly SpecimenRow[] = [
  { hl7: 2, fx: "identifier", conv: specimenId },
  { hl7: 4, fx: "type", conv: flat(cwe("HL70487")) },
  { hl7: 7, fx: "collection.method", conv: flat(cwe("HL70488")) },
  { hl7: 8, fx: "collection.bodySite", conv: flat(cwe()) },
  { hl7: 11, fx: `extension:${SPECIMEN_ROLE}`, conv: flat(cwe("HL70369")) },
  { hl7: 12, fx: "collection.quantity", conv: amount },
  { hl7: 17, fx: "collection", conv: collected },
  { hl7: 18, fx: "receivedTime", conv: flat(dtm) },
  { hl7: 20, fx: "status", conv: flat(availability) },
  { hl7: 21, fx: `extension:${SPECIMEN_REJECT_REASON}`, conv: flat(cwe("HL70490")) },
  { hl7: 24, fx: "condition[0]", conv: flat(cwe("HL70493")) },
];

const EXT = "extension:";

function get(res: JsonObject, fx: string): unknown {
  // A bare element name is the whole element (readFhir would give an array's first item).
  if (/^[a-zA-Z]+$/.test(fx)) return res[fx];
  if (!fx.startsWith(EXT)) return readFhir(res, fx);
  return findExtension(res, fx.slice(EXT.length))?.valueCodeableConcept;
}

function put(res: JsonObject, fx: string, v: unknown): void {
  if (fx.startsWith(EXT)) {
    addExtensions(res, { url: fx.slice(EXT.length), valueCodeableConcept: v });
    return;
  }
  const prev = readFhir(res, fx);
  writeFhir(res, fx, isObject(prev) && isObject(v) ? { ...prev, ...v } : v);
}

/** The SPM the table writes of a Specimen (SPM-1 is its 1-based position). */
function tableSegment(res: JsonObject, setId: number, o: ConvOptions): Seg {
  const seg = new Seg(["SPM", String(setId)], STD_DELIMITERS);
  for (const row of SPECIMEN_FIELDS) {
    const tree = row.conv.toHl7(get(res, row.fx), o);
    if (tree !== undefined) seg.set(row.hl7, Seg.encodeSubs(tree, STD_DELIMITERS));
  }
  return seg;
}

/**
 * One SPM (standard delimiters) → the Specimen's elements (no id, subject or resourceType),
 * with what the table does not give back kept in the `hl7v2` extension.
 */
export function specimenOf(spm: string, setId: number, o: ConvOptions): JsonObject {
  const seg = Seg.parse(spm);
  const res: JsonObject = {};
  for (const row of SPECIMEN_FIELDS) {
    const v = row.conv.toFhir(seg.subs(row.hl7), o);
    if (v !== undefined) put(res, row.fx, v);
  }
  const back = tableSegment(res, setId, o);
  const fields: Record<string, string> = {};
  const n = Math.max(seg.fields.length, back.fields.length);
  for (let f = 1; f < n; f++) {
    const orig = seg.fields[f] ?? "";
    if (orig !== (back.fields[f] ?? "")) fields[`SPM-${f}`] = orig;
  }
  addExtensions(res, hl7v2Extension({ Fields: fields }));
  return res;
}

/** A Specimen → its SPM (standard delimiters), kept fields put back over the table's. */
export function spmOf(res: JsonObject, setId: number, o: ConvOptions): string {
  const seg = tableSegment(res, setId, o);
  const kept = readHl7v2Extension(res)?.Fields;
  if (isObject(kept)) {
    for (const [path, raw] of Object.entries(kept)) {
      const m = /^SPM-(\d+)$/.exec(path);
      if (m !== null && typeof raw === "string") seg.set(Number(m[1]), raw);
    }
  }
  return seg.text();
}
