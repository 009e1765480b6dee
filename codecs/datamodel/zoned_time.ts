/**
 * Fast paths for the commonest HL7 times, answering exactly as the time codec does:
 *
 * - `YYYYMMDDHHMM[SS[.S…]]` without offset, read in the facility's zone. The codec answers it
 *   through `Intl` (several microseconds); this caches the zone's offset per wall-clock hour,
 *   learnt from the codec itself. An hour with a transition inside it is not cached and goes to
 *   the codec.
 * - `YYYYMMDD` dates, checked and reformatted without parsing twice.
 *
 * Anything else goes to the codec.
 *
 * @module
 */

import { tryHl7ToIso } from "../time/mod.ts";

const MAX_ENTRIES = 50_000;

/** Per zone: wall hour `YYYYMMDDHH` → offset in ms (local − UTC), or null: use the codec. */
const offsets = new Map<string, Map<string, number | null>>();

/** The number written by the digits `text[from, to)`, or -1 if one is not a digit. */
function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(y: number, m: number, d: number): boolean {
  if (y < 1000 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (m === 2 && leap ? 29 : DAYS[m - 1] as number);
}

function offsetOfHour(hour: string, zone: string, hourAsUtc: number): number | null {
  const a = tryHl7ToIso(`${hour}00`, { timeZone: zone, alwaysSeconds: true });
  const b = tryHl7ToIso(`${hour}59`, { timeZone: zone, alwaysSeconds: true });
  if (!a.ok || !b.ok) return null;
  const ta = Date.parse(a.value), tb = Date.parse(b.value);
  // A transition inside the hour shows as :00 and :59 not being 59 minutes apart.
  if (tb - ta !== 59 * 60_000) return null;
  return hourAsUtc - ta;
}

/**
 * HL7 DTM → UTC ISO 8601 with seconds (`…T17:30:00Z`), exactly as
 * `hl7ToIso(text, {timeZone, alwaysSeconds: true})` answers, or `undefined` when the text is
 * not a valid HL7 time (or the zone is unknown).
 */
export function hl7DateTimeToIso(text: string, timeZone: string): string | undefined {
  const len = text.length;
  // YYYYMMDDHHMM, YYYYMMDDHHMMSS, YYYYMMDDHHMMSS.S to .SSSS
  if (len === 12 || len === 14 || (len >= 16 && len <= 19 && text.charCodeAt(14) === 46)) {
    const y = digits(text, 0, 4), mo = digits(text, 4, 6), d = digits(text, 6, 8);
    const h = digits(text, 8, 10), mi = digits(text, 10, 12);
    const s = len === 12 ? 0 : digits(text, 12, 14);
    const fraction = len > 15 ? text.slice(15) : "";
    if (
      validDate(y, mo, d) && h >= 0 && h < 24 && mi >= 0 && mi < 60 && s >= 0 && s < 60 &&
      (fraction === "" || digits(fraction, 0, fraction.length) >= 0)
    ) {
      let zone = offsets.get(timeZone);
      if (zone === undefined) offsets.set(timeZone, zone = new Map());
      const hour = text.slice(0, 10);
      const hourAsUtc = Date.UTC(y, mo - 1, d, h);
      let off = zone.get(hour);
      if (off === undefined) {
        if (zone.size >= MAX_ENTRIES) zone.clear();
        off = offsetOfHour(hour, timeZone, hourAsUtc);
        zone.set(hour, off);
      }
      if (off !== null) {
        const iso = new Date(hourAsUtc + mi * 60_000 + s * 1000 - off).toISOString();
        return `${iso.slice(0, 19)}${fraction === "" ? "" : `.${fraction}`}Z`;
      }
    }
  }
  const r = tryHl7ToIso(text, { timeZone, alwaysSeconds: true });
  return r.ok ? r.value : undefined;
}

/** HL7 `YYYYMMDD` → `YYYY-MM-DD` when it is a valid date, else `undefined` (use the codec). */
export function hl7DayToIso(text: string): string | undefined {
  if (text.length !== 8) return undefined;
  const y = digits(text, 0, 4), m = digits(text, 4, 6), d = digits(text, 6, 8);
  if (!validDate(y, m, d)) return undefined;
  return `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}`;
}
