import { Hl7TimeError } from "./errors.ts";
import {
  type Fields,
  type ParsedTime,
  type Precision,
  validateFields,
  validateOffset,
} from "./fields.ts";

const SUBJECT = "Invalid ISO 8601 date/time";
// Extended format only; a time needs at least HH:MM, and only a date-time may carry an offset.
const ISO =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?)?$/;

/**
 * Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS[.s…]][Z|±HH[:MM]]`. A
 * date-time without a designator is a floating local time (`offsetMinutes: null`).
 */
export function parseIso(value: string): ParsedTime {
  const m = typeof value === "string" ? ISO.exec(value) : null;
  if (m === null) {
    throw new Hl7TimeError({
      value: String(value),
      reason: value === ""
        ? "empty value"
        : "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.S]][Z|+HH:MM|-HH:MM]",
      code: "syntax",
      subject: SUBJECT,
    });
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const precision: Precision = s !== undefined
    ? "second"
    : mi !== undefined
    ? "minute"
    : d !== undefined
    ? "day"
    : mo !== undefined
    ? "month"
    : "year";
  const fields: Fields = {
    year: Number(y),
    month: mo === undefined ? 1 : Number(mo),
    day: d === undefined ? 1 : Number(d),
    hour: h === undefined ? 0 : Number(h),
    minute: mi === undefined ? 0 : Number(mi),
    second: s === undefined ? 0 : Number(s),
  };
  validateFields(fields, { value, subject: SUBJECT });
  let offsetMinutes: number | null = null;
  if (zone !== undefined) {
    if (zone === "Z" || zone === "z") {
      offsetMinutes = 0;
    } else {
      const digits = zone.slice(1).replace(":", "");
      const hours = Number(digits.slice(0, 2));
      const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
      validateOffset(hours, minutes, { value, subject: SUBJECT });
      offsetMinutes = (zone[0] === "-" ? -1 : 1) * (hours * 60 + minutes);
    }
  }
  return { precision, fields, fraction: frac ?? "", offsetMinutes };
}
