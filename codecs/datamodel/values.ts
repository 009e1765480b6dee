/**
 * Leaf values both ways: decoded HL7 text ⇄ JSON value for each {@link ValueType}, and code
 * tables. Every conversion returns `undefined` instead of throwing, so that one bad value costs
 * one warning, never the message.
 *
 * @module
 */

import { tryHl7ToIso, tryIsoToHl7 } from "../time/mod.ts";
import type { ValueType } from "./rules.ts";
import { hl7DateTimeToIso, hl7DayToIso } from "./zoned_time.ts";

/**
 * HL7 code ⇄ JSON value. The first code listed for a JSON value is the one written; other codes
 * with the same meaning still read (`CWE` and `CE` are both "Coded Entry").
 */
export class CodeTable {
  readonly #toJson = new Map<string, string | boolean>();
  readonly #toHl7 = new Map<string | boolean, string>();

  /** Builds a table from `[hl7Code, jsonValue]` pairs. */
  constructor(pairs: readonly (readonly [string, string | boolean])[]) {
    for (const [code, value] of pairs) {
      this.#toJson.set(code, value);
      if (!this.#toHl7.has(value)) this.#toHl7.set(value, code);
    }
  }

  /** JSON value of a code, or `undefined` when the table does not know it. */
  toJson(code: string): string | boolean | undefined {
    return this.#toJson.get(code);
  }

  /** HL7 code of a JSON value, or `undefined` when the table does not know it. */
  toHl7(value: string | boolean): string | undefined {
    return this.#toHl7.get(value);
  }

  /** The JSON values the table knows (for error messages). */
  values(): (string | boolean)[] {
    return [...this.#toHl7.keys()];
  }
}

/** Shorthand: `codes({F: "Female", M: "Male"})`. */
export function codes(map: Readonly<Record<string, string | boolean>>): CodeTable {
  return new CodeTable(Object.entries(map));
}

/** What a conversion needs. */
export interface ValueOptions {
  /** IANA zone of HL7 times without offset, and of the wall time written. */
  readonly timeZone: string;
}

/** A JSON value as read from one leaf. */
export type LeafValue = string | number | boolean;

/**
 * Decoded HL7 text → JSON value, or `undefined` when the text does not fit the type (the caller
 * keeps the original text as an extension and may warn).
 */
export function toJsonValue(
  text: string,
  type: ValueType,
  table: CodeTable | undefined,
  o: ValueOptions,
): LeafValue | undefined {
  switch (type) {
    case "string":
    case "base64":
      return table === undefined ? text : table.toJson(text) ?? text;
    case "boolean": {
      const v = table?.toJson(text);
      return typeof v === "boolean" ? v : undefined;
    }
    case "number": {
      const t = text.trim();
      if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(t)) return undefined;
      return Number(t);
    }
    case "date": {
      const day = hl7DayToIso(text);
      if (day !== undefined) return day;
      // A date may be sent with a time (TS in PID-7): the date part is the value.
      const m = /^(\d{4}(?:\d{2}(?:\d{2})?)?)/.exec(text);
      if (m === null) return undefined;
      const r = tryHl7ToIso(m[1] as string, o);
      return r.ok ? r.value : undefined;
    }
    case "datetime":
      return hl7DateTimeToIso(text, o.timeZone);
  }
}

/**
 * JSON value → text to escape into a leaf, or `undefined` when the value does not fit the type
 * (the validator reports those before writing starts).
 */
export function toHl7Text(
  value: unknown,
  type: ValueType,
  table: CodeTable | undefined,
  o: ValueOptions,
): string | undefined {
  switch (type) {
    case "string":
    case "base64":
      if (typeof value !== "string") return undefined;
      return table === undefined ? value : table.toHl7(value) ?? value;
    case "boolean":
      return typeof value === "boolean" ? table?.toHl7(value) : undefined;
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? String(value) : undefined;
    case "date": {
      if (typeof value !== "string" || !DATE.test(value)) return undefined;
      // A full date is valid by construction once read, or checked by the validator.
      if (value.length === 10) return value.slice(0, 4) + value.slice(5, 7) + value.slice(8);
      const r = tryIsoToHl7(value);
      return r.ok ? r.value : undefined;
    }
    case "datetime": {
      if (typeof value !== "string") return undefined;
      const r = tryIsoToHl7(value, { timeZone: o.timeZone });
      return r.ok ? r.value : undefined;
    }
  }
}

/** ISO dates: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`. */
export const DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;

/** Standard base64 (RFC 4648 §4), padded. */
export const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes that a base64 text decodes to. */
export function base64Bytes(text: string): number {
  let pad = 0;
  if (text.endsWith("==")) pad = 2;
  else if (text.endsWith("=")) pad = 1;
  return Math.floor(text.length / 4) * 3 - pad;
}

/** Whether two JSON leaf values are the same (dates and times compared as instants). */
export function sameValue(a: unknown, b: unknown, type: ValueType): boolean {
  if (a === b) return true;
  if (type !== "datetime" || typeof a !== "string" || typeof b !== "string") return false;
  const ta = Date.parse(a), tb = Date.parse(b);
  return !Number.isNaN(ta) && ta === tb && a.length > 10 && b.length > 10;
}
