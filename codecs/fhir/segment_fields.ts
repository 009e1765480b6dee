/**
 * What the segment tables that read HL7 directly share (VXU's Immunization in vxu.ts, SPM's
 * Specimen in resources/specimen.ts): a segment split into raw fields, and field converters
 * between HL7 components and FHIR values that serve both directions.
 *
 * @module
 */

import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import { escapeHl7, type Hl7Delimiters, unescapeHl7 } from "../hl7v2/mod.ts";
import { tryHl7ToIso, tryIsoToHl7 } from "../time/mod.ts";
import type { FhirOptions } from "./bundle.ts";
import { systemName, systemUri } from "./codes.ts";

/** The standard delimiters (`|^~\&`), which the data model's kept segments are written in. */
export const STD_DELIMITERS: Hl7Delimiters = {
  field: "|",
  component: "^",
  repetition: "~",
  escape: "\\",
  subcomponent: "&",
} as Hl7Delimiters;

/** The options a converter reads. */
export type ConvOptions = Required<Pick<FhirOptions, "timeZone">>;

/** One field's value converter: HL7 components (decoded) ⇄ a FHIR value. */
export interface FieldConv {
  toFhir(comps: string[], o: ConvOptions): unknown;
  /** The field's components (decoded), or undefined when the resource says nothing. */
  toHl7(v: unknown, o: ConvOptions): string[] | undefined;
}

/** A row of a segment table: `RXA-5` ⇄ `vaccineCode`. */
export interface FieldRow {
  readonly hl7: string;
  readonly fx: string;
  readonly conv: FieldConv;
}

/** ST ⇄ a string. */
export const text: FieldConv = {
  toFhir: (c) => c[0] || undefined,
  toHl7: (v) => (typeof v === "string" && v !== "" ? [v] : undefined),
};

/** HL7 CWE (code^text^system) ⇄ CodeableConcept; the system by CWE-3 (CVX, HL70162…). */
export function cwe(defaultSystem?: string): FieldConv {
  return {
    toFhir: ([code, display, system]) => {
      if (!code && !display) return undefined;
      const coding: JsonObject = {};
      const sys = system || defaultSystem;
      if (sys) coding.system = systemUri(sys);
      if (code) coding.code = code;
      if (display) coding.display = display;
      return code ? { coding: [coding] } : { text: display };
    },
    toHl7: (v) => {
      if (!isObject(v)) return undefined;
      const c = Array.isArray(v.coding) && isObject(v.coding[0]) ? v.coding[0] : {};
      const code = typeof c.code === "string" ? c.code : "";
      const display = typeof c.display === "string"
        ? c.display
        : typeof v.text === "string"
        ? v.text
        : "";
      const system = typeof c.system === "string" && code !== "" ? systemName(c.system) : "";
      return code === "" && display === "" ? undefined : [code, display, system];
    },
  };
}

/** HL7 DTM ⇄ FHIR dateTime (seconds; a date alone stays a date). */
export const dtm: FieldConv = {
  toFhir: ([v], o) => {
    if (!v) return undefined;
    if (/^\d{8}$/.test(v)) return `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6)}`;
    const r = tryHl7ToIso(v, { timeZone: o.timeZone, alwaysSeconds: true });
    return r.ok ? r.value : undefined;
  },
  toHl7: (v, o) => {
    if (typeof v !== "string") return undefined;
    if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return [v.replaceAll("-", "")];
    const r = tryIsoToHl7(v, { timeZone: o.timeZone });
    return r.ok ? [r.value] : undefined;
  },
};

/** A segment split into raw (encoded) fields; index 0 is the segment id. */
export class Seg {
  /** A segment of `fields` (raw, encoded with `d`). */
  constructor(readonly fields: string[], readonly d: Hl7Delimiters) {}
  /** A segment's text (no MSH) with standard delimiters. */
  static parse(text: string, d: Hl7Delimiters = STD_DELIMITERS): Seg {
    return new Seg(text.split(d.field), d);
  }
  /** The segment id (`SPM`). */
  get name(): string {
    return this.fields[0] ?? "";
  }
  /** Decoded components of the first repetition of field n. */
  comps(n: number): string[] {
    const raw = (this.fields[n] ?? "").split(this.d.repetition)[0] ?? "";
    return raw.split(this.d.component).map((c) => unescapeHl7(c, this.d));
  }
  /** Decoded subcomponents of each component of the first repetition of field n. */
  subs(n: number): string[][] {
    const raw = (this.fields[n] ?? "").split(this.d.repetition)[0] ?? "";
    return raw.split(this.d.component).map((c) =>
      c.split(this.d.subcomponent).map((s) => unescapeHl7(s, this.d))
    );
  }
  /** Components (decoded) → a raw field, without trailing empty components. */
  static encode(comps: string[], d: Hl7Delimiters): string {
    return Seg.encodeSubs(comps.map((c) => [c]), d);
  }
  /** Components of subcomponents (decoded) → a raw field, without trailing empty parts. */
  static encodeSubs(comps: string[][], d: Hl7Delimiters): string {
    const out = comps.map((c) => {
      const subs = c.map((s) => escapeHl7(s, d));
      while (subs.length > 0 && subs[subs.length - 1] === "") subs.pop();
      return subs.join(d.subcomponent);
    });
    while (out.length > 0 && out[out.length - 1] === "") out.pop();
    return out.join(d.component);
  }
  /** Sets field n (raw), growing the segment as needed. */
  set(n: number, raw: string): void {
    while (this.fields.length <= n) this.fields.push("");
    this.fields[n] = raw;
  }
  /** The segment's text, without trailing empty fields. */
  text(): string {
    // MSH-1 is the separator between the id and MSH-2, not a field of its own.
    const f = this.name === "MSH" ? ["MSH", ...this.fields.slice(2)] : [...this.fields];
    while (f.length > 1 && f[f.length - 1] === "") f.pop();
    return f.join(this.d.field);
  }
}
