import { Hl7TimeError } from "./errors.ts";
import {
  type Fields,
  type ParsedTime,
  type Precision,
  validateFields,
  validateOffset,
} from "./fields.ts";

const SUBJECT = "Invalid HL7 date/time";
const PRECISION_BY_LENGTH: Record<number, Precision> = {
  4: "year",
  6: "month",
  8: "day",
  10: "hour",
  12: "minute",
  14: "second",
};

function fail(value: string, reason: string, code: "syntax" | "range" = "syntax"): never {
  throw new Hl7TimeError({ value, reason, code, subject: SUBJECT });
}

/** Index of the first non-digit in `s[from, to)`, or -1. */
function firstNonDigit(s: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return i;
  }
  return -1;
}

/**
 * Parses HL7 v2 DTM / TS: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`, optionally followed
 * by `^<degree of precision>` (TS.2, deprecated), which is ignored.
 */
export function parseHl7(value: string): ParsedTime {
  if (typeof value !== "string") fail(String(value), "not a string");
  const caret = value.indexOf("^");
  const text = caret === -1 ? value : value.slice(0, caret);
  if (text.length === 0) fail(value, "empty value");

  let end = text.length;
  let offsetMinutes: number | null = null;
  const sign = text.search(/[+-]/);
  if (sign !== -1) {
    const zone = text.slice(sign);
    if (!/^[+-]\d{4}$/.test(zone)) {
      fail(value, `UTC offset "${zone}" must be +HHMM or -HHMM`);
    }
    const hours = Number(zone.slice(1, 3));
    const minutes = Number(zone.slice(3, 5));
    validateOffset(hours, minutes, { value, subject: SUBJECT });
    offsetMinutes = (zone[0] === "-" ? -1 : 1) * (hours * 60 + minutes);
    end = sign;
  }

  let fraction = "";
  const dot = text.indexOf(".");
  if (dot !== -1 && dot < end) {
    fraction = text.slice(dot + 1, end);
    const bad = firstNonDigit(text, dot + 1, end);
    if (bad !== -1) fail(value, `unexpected character "${text[bad]}" at position ${bad + 1}`);
    if (fraction.length < 1 || fraction.length > 4) {
      fail(value, `fractional seconds must have 1 to 4 digits, got ${fraction.length}`);
    }
    end = dot;
  }

  const bad = firstNonDigit(text, 0, end);
  if (bad !== -1) fail(value, `unexpected character "${text[bad]}" at position ${bad + 1}`);
  const precision = PRECISION_BY_LENGTH[end];
  if (precision === undefined) {
    fail(value, `date/time part has ${end} digits; expected 4, 6, 8, 10, 12 or 14`);
  }
  if (fraction !== "" && precision !== "second") {
    fail(value, "fractional seconds require seconds (YYYYMMDDHHMMSS.S)");
  }

  const num = (at: number, fallback: number): number =>
    at + 2 <= end ? Number(text.slice(at, at + 2)) : fallback;
  const fields: Fields = {
    year: Number(text.slice(0, 4)),
    month: num(4, 1),
    day: num(6, 1),
    hour: num(8, 0),
    minute: num(10, 0),
    second: num(12, 0),
  };
  validateFields(fields, { value, subject: SUBJECT });
  return { precision, fields, fraction, offsetMinutes };
}
