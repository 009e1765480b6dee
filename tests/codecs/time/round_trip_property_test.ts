import assert from "node:assert/strict";
import fc from "fast-check";
import { hl7ToIso, isoToHl7 } from "../../../codecs/time/mod.ts";

const ZONES = [
  "UTC",
  "America/Chicago",
  "America/New_York",
  "America/St_Johns",
  "America/Sao_Paulo",
  "Europe/London",
  "Europe/Berlin",
  "Asia/Tokyo",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Australia/Adelaide",
  "Australia/Lord_Howe",
  "Pacific/Chatham",
  "Pacific/Kiritimati",
  "Pacific/Pago_Pago",
];
/** Zones without DST since 1970, where a local wall time always exists exactly once. */
const FIXED_ZONES = ["UTC", "Asia/Tokyo", "Asia/Kolkata", "Pacific/Pago_Pago"];

const p2 = (n: number) => String(n).padStart(2, "0");
const DIGITS = { year: 4, month: 6, day: 8, hour: 10, minute: 12, second: 14 } as const;
type Precision = keyof typeof DIGITS;

const hl7Arb = fc.record({
  year: fc.integer({ min: 1970, max: 2099 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
  hour: fc.integer({ min: 0, max: 23 }),
  minute: fc.integer({ min: 0, max: 59 }),
  second: fc.integer({ min: 0, max: 59 }),
  precision: fc.constantFrom<Precision>("year", "month", "day", "hour", "minute", "second"),
  fraction: fc.stringMatching(/^\d{0,4}$/),
  offset: fc.option(fc.integer({ min: -12 * 60, max: 14 * 60 }), { nil: undefined }),
}).map((r) => {
  const full = `${r.year}${p2(r.month)}${p2(r.day)}${p2(r.hour)}${p2(r.minute)}${p2(r.second)}`;
  let value = full.slice(0, DIGITS[r.precision]);
  if (r.precision === "second" && r.fraction !== "") value += `.${r.fraction}`;
  const digits = value;
  if (r.offset !== undefined) {
    const abs = Math.abs(r.offset);
    value += `${r.offset < 0 ? "-" : "+"}${p2(Math.floor(abs / 60))}${p2(abs % 60)}`;
  }
  return { value, digits, precision: r.precision, hasOffset: r.offset !== undefined };
});

/** The date/time digits (and fraction) of an HL7 value, without its offset. */
const digitsOf = (hl7: string) => hl7.replace(/[+-]\d{4}$/, "");

Deno.test("time: HL7 values round-trip through hl7ToIso and isoToHl7 in random zones", () => {
  fc.assert(
    fc.property(hl7Arb, fc.constantFrom(...ZONES), (x, timeZone) => {
      const iso = hl7ToIso(x.value, { timeZone });
      const back = isoToHl7(iso, { timeZone });
      // Same instant (or date) and same precision: converting back gives the same ISO text.
      assert.equal(hl7ToIso(back, { timeZone }), iso, `${x.value} -> ${iso} -> ${back}`);
      const expectedLength = x.precision === "hour" ? DIGITS.minute : x.digits.length;
      assert.equal(digitsOf(back).length, expectedLength, `${x.value} -> ${back}`);
      if (x.precision === "year" || x.precision === "month" || x.precision === "day") {
        assert.equal(back, x.digits);
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("time: offset-less HL7 values come back as the same wall time in fixed zones", () => {
  fc.assert(
    fc.property(
      hl7Arb.filter((x) => !x.hasOffset && x.precision !== "hour"),
      fc.constantFrom(...FIXED_ZONES),
      (x, timeZone) => {
        const iso = hl7ToIso(x.value, { timeZone });
        assert.equal(isoToHl7(iso, { timeZone, offset: false }), x.digits);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("time: ISO instants round-trip through isoToHl7 and hl7ToIso in random zones", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2099, 11, 31) }),
      fc.constantFrom("minute", "second", "fraction"),
      fc.stringMatching(/^\d{1,4}$/),
      fc.constantFrom(...ZONES),
      (ms, precision, fraction, timeZone) => {
        const full = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
        const iso = precision === "minute"
          ? `${full.slice(0, 16)}Z`
          : precision === "second"
          ? `${full.slice(0, 19)}Z`
          : `${full.slice(0, 19)}.${fraction}Z`;
        const hl7 = isoToHl7(iso, { timeZone });
        assert.equal(hl7ToIso(hl7, { timeZone }), iso, `${iso} -> ${hl7}`);
        // Any other zone reads the offset-qualified HL7 value as the same instant.
        assert.equal(hl7ToIso(hl7, { timeZone: "Asia/Tokyo" }), iso);
      },
    ),
    { numRuns: 500 },
  );
});
