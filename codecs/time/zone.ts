import { Hl7TimeError } from "./errors.ts";
import { epochMsToFields, type Fields, fieldsToEpochMs } from "./fields.ts";

const DAY_MS = 86_400_000;

// Building a DateTimeFormat costs far more than using one; zones are few, so keep them all.
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The cached formatter for an IANA zone; throws a `time-zone` error for an unknown zone. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  if (typeof timeZone !== "string") {
    // Given `timeZone: undefined` (a JS caller, an unchecked config), Intl would silently use
    // the host's zone: exactly the guess that reading local times in the facility zone avoids.
    throw new Hl7TimeError({
      value: String(timeZone),
      reason: "no time zone given; expected an IANA name such as America/Chicago",
      code: "time-zone",
      subject: "Unknown time zone",
    });
  }
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone,
        era: "short",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
        hourCycle: "h23",
      });
    } catch {
      throw new Hl7TimeError({
        value: String(timeZone),
        reason: "not a known IANA time zone",
        code: "time-zone",
        subject: "Unknown time zone",
      });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a `time-zone` {@link Hl7TimeError} unless `timeZone` is a known IANA zone. */
export function assertTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

/** Wall-clock fields in `timeZone` at an instant (milliseconds since the epoch). */
export function wallFields(timeZone: string, epochMs: number): Fields {
  // UTC (the API's and the validator's zone) needs no Intl: formatToParts costs ~5 µs a call.
  if (timeZone === "UTC") return epochMsToFields(epochMs);
  const f: Fields = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  let bc = false;
  for (const part of formatterFor(timeZone).formatToParts(epochMs)) {
    switch (part.type) {
      case "era":
        bc = part.value.startsWith("B");
        break;
      case "year":
        f.year = Number(part.value);
        break;
      case "month":
        f.month = Number(part.value);
        break;
      case "day":
        f.day = Number(part.value);
        break;
      case "hour":
        // Some ICU versions print midnight as 24 even with h23.
        f.hour = Number(part.value) % 24;
        break;
      case "minute":
        f.minute = Number(part.value);
        break;
      case "second":
        f.second = Number(part.value);
        break;
    }
  }
  if (bc) f.year = 1 - f.year;
  return f;
}

/**
 * UTC offset of `timeZone` at an instant, in milliseconds (local = UTC + offset). Can have a
 * seconds part for local mean time before a zone adopted standard time.
 */
export function zoneOffsetMs(timeZone: string, epochMs: number): number {
  if (timeZone === "UTC") return 0;
  const whole = Math.floor(epochMs / 1000) * 1000;
  return fieldsToEpochMs(wallFields(timeZone, whole)) - whole;
}

/**
 * The instant at which the wall clock of `timeZone` shows `local`. Ambiguity is resolved like
 * Temporal's `disambiguation: "compatible"`: in a DST overlap the earlier instant; in a gap the
 * time is moved forward by the gap's length (02:30 in a 02:00→03:00 gap becomes 03:30).
 */
export function localToEpochMs(local: Fields, timeZone: string): number {
  const asUtc = fieldsToEpochMs(local);
  // Offsets a day either side bracket any transition near this wall time.
  const before = zoneOffsetMs(timeZone, asUtc - DAY_MS);
  const after = zoneOffsetMs(timeZone, asUtc + DAY_MS);
  if (before === after) return asUtc - before;
  const withBefore = asUtc - before;
  const withAfter = asUtc - after;
  const beforeFits = zoneOffsetMs(timeZone, withBefore) === before;
  const afterFits = zoneOffsetMs(timeZone, withAfter) === after;
  if (beforeFits && afterFits) return Math.min(withBefore, withAfter);
  if (beforeFits) return withBefore;
  if (afterFits) return withAfter;
  // Gap: keep the pre-transition offset, which lands the same distance past the gap's end.
  return asUtc - before;
}
