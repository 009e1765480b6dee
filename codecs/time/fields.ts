import { Hl7TimeError } from "./errors.ts";

/** How much of a date/time a value carries. Fractional seconds are kept as digits. */
export type Precision = "year" | "month" | "day" | "hour" | "minute" | "second";

/** Calendar fields; those below the value's precision are 1 (month, day) or 0. */
export interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** A parsed HL7 or ISO value, before any time zone arithmetic. */
export interface ParsedTime {
  precision: Precision;
  fields: Fields;
  /** Fractional-second digits as written ("" if none); kept as text so no digit is lost. */
  fraction: string;
  /** UTC offset in minutes, or `null` when the value carries none. */
  offsetMinutes: number | null;
}

/** Precision ranks, for "at least" comparisons. */
export const RANK: Record<Precision, number> = {
  year: 0,
  month: 1,
  day: 2,
  hour: 3,
  minute: 4,
  second: 5,
};

/** Whether `year` is a Gregorian leap year. */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** Number of days in `month` (1–12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : MONTH_DAYS[month - 1] ?? 0;
}

/** The input being checked and the message subject, for errors. */
export interface Source {
  value: string;
  subject: string;
}

/**
 * Throws a `range` error naming the first field out of range. Leap seconds (60) are not
 * accepted: neither JavaScript nor the IANA database model them.
 */
export function validateFields(f: Fields, source: Source): void {
  const fail = (reason: string): never => {
    throw new Hl7TimeError({ ...source, reason, code: "range" });
  };
  if (f.year < 1) fail("year 0000 is not supported (years run 0001-9999)");
  if (f.month < 1 || f.month > 12) fail(`month ${pad2(f.month)} is out of range 01-12`);
  const maxDay = daysInMonth(f.year, f.month);
  if (f.day < 1 || f.day > maxDay) {
    const leap = f.month === 2 && f.day === 29 ? ` (${pad4(f.year)} is not a leap year)` : "";
    fail(`day ${pad2(f.day)} does not exist in ${MONTH_NAMES[f.month - 1]}${leap}`);
  }
  if (f.hour > 23) fail(`hour ${pad2(f.hour)} is out of range 00-23`);
  if (f.minute > 59) fail(`minute ${pad2(f.minute)} is out of range 00-59`);
  if (f.second > 59) fail(`second ${pad2(f.second)} is out of range 00-59`);
}

/** Throws unless an offset of `hours`:`minutes` lies within ±14:59 (real zones: -12..+14). */
export function validateOffset(hours: number, minutes: number, source: Source): void {
  if (hours > 14 || minutes > 59) {
    const offset = `${pad2(hours)}${pad2(minutes)}`;
    throw new Hl7TimeError({
      ...source,
      reason: `UTC offset ${offset} is out of range (hours 00-14, minutes 00-59)`,
      code: "range",
    });
  }
}

/** Zero-pads to 2 digits. */
export function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** Zero-pads to 4 digits. */
export function pad4(n: number): string {
  return String(n).padStart(4, "0");
}

/** Milliseconds since the epoch of `f` read as UTC (proleptic Gregorian, years < 100 too). */
export function fieldsToEpochMs(f: Fields): number {
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  d.setUTCFullYear(f.year, f.month - 1, f.day);
  d.setUTCHours(f.hour, f.minute, f.second, 0);
  return d.getTime();
}

/** UTC calendar fields of an epoch time (milliseconds are dropped). */
export function epochMsToFields(ms: number): Fields {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** Formats a ±HHMM (or ±HH:MM with `colon`) offset from minutes. */
export function formatOffset(minutes: number, colon: boolean): string {
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${pad2(Math.floor(abs / 60))}${colon ? ":" : ""}${pad2(abs % 60)}`;
}
