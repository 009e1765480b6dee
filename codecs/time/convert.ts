import { Hl7TimeError, type Hl7TimeResult } from "./errors.ts";
import {
  epochMsToFields,
  type Fields,
  fieldsToEpochMs,
  formatOffset,
  pad2,
  pad4,
  type ParsedTime,
  RANK,
} from "./fields.ts";
import { parseHl7 } from "./hl7_parse.ts";
import { parseIso } from "./iso_parse.ts";
import { assertTimeZone, localToEpochMs, wallFields, zoneOffsetMs } from "./zone.ts";

/** Options for {@link hl7ToIso}. */
export interface Hl7ToIsoOptions {
  /** IANA zone (e.g. `America/Chicago`) in which values without a UTC offset are read. */
  timeZone: string;
  /**
   * Always write seconds for date-times (`…T17:30:00Z`), e.g. for FHIR `dateTime`/`instant`.
   * Default `false`: the value's own precision is kept (`…T17:30Z`).
   */
  alwaysSeconds?: boolean;
}

/** Options for {@link isoToHl7} and {@link nowHl7}. */
export interface IsoToHl7Options {
  /**
   * IANA zone whose wall time is written. Default: UTC, written with offset `+0000`.
   * Also the zone in which an ISO date-time without designator is read.
   */
  timeZone?: string;
  /** Append the `±ZZZZ` UTC offset to date-times. Default `true`. */
  offset?: boolean;
}

function unrepresentable(value: string, reason: string, subject: string): never {
  throw new Hl7TimeError({ value, reason, code: "unrepresentable", subject });
}

/** `YYYY`, `YYYY-MM` or `YYYY-MM-DD` for date precisions, else `undefined`. */
function isoDate(t: ParsedTime): string | undefined {
  const { year, month, day } = t.fields;
  if (t.precision === "year") return pad4(year);
  if (t.precision === "month") return `${pad4(year)}-${pad2(month)}`;
  if (t.precision === "day") return `${pad4(year)}-${pad2(month)}-${pad2(day)}`;
  return undefined;
}

/**
 * Converts an HL7 v2 DTM/TS value to ISO 8601, keeping its precision.
 *
 * - Dates stay dates, no time invented: `2024` → `2024`, `202403` → `2024-03`,
 *   `20240315` → `2024-03-15`. A UTC offset on a date is ignored (ISO has no zoned dates).
 * - Date-times become UTC instants (`Z`). With an offset it is applied
 *   (`202403151230-0500` → `2024-03-15T17:30Z`); without one the wall time is read in
 *   `timeZone` (DST gap: moved forward; overlap: earlier instant — see `localToEpochMs`).
 * - Precision of the time: minutes (`T17:30Z`), seconds (`T17:30:05Z`), and fractional digits
 *   exactly as written (`T17:30:05.1234Z`). ISO needs at least HH:MM, so hour-precision input
 *   comes out with minutes; and minutes widen to seconds only when a local-mean-time offset
 *   (pre-1900 zones) puts the instant off the minute. `alwaysSeconds` forces seconds.
 * - A trailing `^…` component (TS.2 degree of precision, deprecated) is ignored.
 *
 * Throws {@link Hl7TimeError} for malformed or out-of-range values and unknown zones.
 */
export function hl7ToIso(value: string, options: Hl7ToIsoOptions): string {
  assertTimeZone(options.timeZone);
  const t = parseHl7(value);
  const date = isoDate(t);
  if (date !== undefined) return date;
  const utcMs = t.offsetMinutes !== null
    ? fieldsToEpochMs(t.fields) - t.offsetMinutes * 60_000
    : localToEpochMs(t.fields, options.timeZone);
  const u = epochMsToFields(utcMs);
  if (u.year < 1 || u.year > 9999) {
    unrepresentable(value, `in UTC it falls in year ${u.year}, outside 0001-9999`, "HL7 date/time");
  }
  let out = `${pad4(u.year)}-${pad2(u.month)}-${pad2(u.day)}T${pad2(u.hour)}:${pad2(u.minute)}`;
  if (RANK[t.precision] >= RANK.second || options.alwaysSeconds || u.second !== 0) {
    out += `:${pad2(u.second)}`;
    if (t.fraction !== "") out += `.${t.fraction}`;
  }
  return `${out}Z`;
}

/** Like {@link hl7ToIso}, but returns the error instead of throwing it. */
export function tryHl7ToIso(value: string, options: Hl7ToIsoOptions): Hl7TimeResult {
  return attempt(() => hl7ToIso(value, options));
}

interface Hl7Parts {
  /** Wall-clock fields to write. */
  wall: Fields;
  /** Write seconds (and `fraction`), else stop at minutes. */
  withSeconds: boolean;
  /** Fractional-second digits, "" for none. */
  fraction: string;
  /** Offset to append, or `null` for none. */
  offsetMs: number | null;
  /** The input, for error messages. */
  source: string;
}

/** `YYYYMMDDHHMM[SS[.S…]][±ZZZZ]`. */
function hl7DateTime({ wall: f, withSeconds, fraction, offsetMs, source }: Hl7Parts): string {
  let out = `${pad4(f.year)}${pad2(f.month)}${pad2(f.day)}${pad2(f.hour)}${pad2(f.minute)}`;
  if (f.year < 1 || f.year > 9999) {
    unrepresentable(source, `the result falls in year ${f.year}, outside 0001-9999`, "Date/time");
  }
  if (withSeconds) out += pad2(f.second) + (fraction === "" ? "" : `.${fraction}`);
  if (offsetMs === null) return out;
  if (offsetMs % 60_000 !== 0) {
    unrepresentable(
      source,
      `the zone's UTC offset then (${
        offsetMs / 1000
      } s, local mean time) has seconds, which HL7 cannot write`,
      "Date/time",
    );
  }
  return out + formatOffset(offsetMs / 60_000, false);
}

/**
 * Converts ISO 8601 to an HL7 v2 DTM, keeping the precision.
 *
 * - `2024`, `2024-03`, `2024-03-15` → `2024`, `202403`, `20240315`.
 * - A date-time with `Z` or an offset (`+02:00`, `+0200`, `+02`) is an instant, written as the
 *   wall time of `timeZone` with its offset (`2024-03-15T17:30:00Z` in America/Chicago →
 *   `20240315123000-0500`), or in UTC with `+0000` when no zone is given.
 * - A date-time without designator is a local time in `timeZone` (if given; then written as
 *   above), or written as is, without offset, when there is no zone to place it in.
 * - Fractional seconds are kept, truncated to HL7's 4 digits.
 * - `offset: false` leaves out the `±ZZZZ` suffix (wall time only).
 *
 * Throws {@link Hl7TimeError}, also when the zone's offset at that instant has seconds (local
 * mean time before ~1900), which HL7 cannot express.
 */
export function isoToHl7(iso: string, options: IsoToHl7Options = {}): string {
  const { timeZone } = options;
  if (timeZone !== undefined) assertTimeZone(timeZone);
  const t = parseIso(iso);
  if (RANK[t.precision] <= RANK.day) {
    const { year, month, day } = t.fields;
    return pad4(year) + (RANK[t.precision] >= RANK.month ? pad2(month) : "") +
      (t.precision === "day" ? pad2(day) : "");
  }
  const withSeconds = t.precision === "second";
  const fraction = t.fraction.slice(0, 4);
  let epochMs: number;
  if (t.offsetMinutes !== null) {
    epochMs = fieldsToEpochMs(t.fields) - t.offsetMinutes * 60_000;
  } else if (timeZone !== undefined) {
    epochMs = localToEpochMs(t.fields, timeZone);
  } else {
    return hl7DateTime({ wall: t.fields, withSeconds, fraction, offsetMs: null, source: iso });
  }
  return formatInstant(epochMs, { ...options, withSeconds, fraction, source: iso });
}

/** Like {@link isoToHl7}, but returns the error instead of throwing it. */
export function tryIsoToHl7(iso: string, options: IsoToHl7Options = {}): Hl7TimeResult {
  return attempt(() => isoToHl7(iso, options));
}

interface FormatOptions extends IsoToHl7Options {
  withSeconds: boolean;
  fraction: string;
  source: string;
}

/** An instant as HL7, in the wall time of `o.timeZone` (or UTC). */
function formatInstant(epochMs: number, o: FormatOptions): string {
  const zone = o.timeZone;
  const wall = zone === undefined ? epochMsToFields(epochMs) : wallFields(zone, epochMs);
  const offsetMs = o.offset === false ? null : zone === undefined ? 0 : zoneOffsetMs(zone, epochMs);
  return hl7DateTime({ ...o, wall, offsetMs });
}

/**
 * Formats a JS `Date` (default: now) as `YYYYMMDDHHMMSS±ZZZZ` for MSH-7: wall time of
 * `timeZone` with its offset, or UTC with `+0000`; `offset: false` drops the suffix.
 * Milliseconds are truncated.
 */
export function nowHl7(date: Date = new Date(), options: IsoToHl7Options = {}): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) {
    throw new Hl7TimeError({ value: "Invalid Date", reason: "not a valid Date", code: "range" });
  }
  if (options.timeZone !== undefined) assertTimeZone(options.timeZone);
  const source = date.toISOString();
  return formatInstant(ms, { ...options, withSeconds: true, fraction: "", source });
}

function attempt(convert: () => string): Hl7TimeResult {
  try {
    return { ok: true, value: convert() };
  } catch (error) {
    if (error instanceof Hl7TimeError) return { ok: false, error };
    throw error;
  }
}
