import assert from "node:assert/strict";
import fc from "fast-check";
import { hl7DateTimeToIso, hl7DayToIso } from "../../../codecs/datamodel/zoned_time.ts";
import { tryHl7ToIso } from "../../../codecs/time/mod.ts";

const ZONES = [
  "UTC",
  "America/Chicago",
  "Europe/London",
  "Australia/Lord_Howe", // 30-minute DST shift
  "Asia/Kathmandu", // +05:45
  "America/St_Johns", // -03:30
  "Pacific/Chatham", // +12:45 / +13:45
];

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** HL7 times near DST changes and month ends, valid and not. */
const hl7Time = fc.record({
  y: fc.constantFrom(1890, 1999, 2024, 2025, 2038),
  mo: fc.integer({ min: 0, max: 13 }),
  d: fc.integer({ min: 0, max: 32 }),
  h: fc.integer({ min: 0, max: 24 }),
  mi: fc.integer({ min: 0, max: 60 }),
  s: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
  frac: fc.option(fc.stringMatching(/^[0-9]{1,4}$/), { nil: undefined }),
}).map(({ y, mo, d, h, mi, s, frac }) =>
  pad(y, 4) + pad(mo, 2) + pad(d, 2) + pad(h, 2) + pad(mi, 2) +
  (s === undefined ? "" : pad(s, 2) + (frac === undefined ? "" : `.${frac}`))
);

Deno.test("property: the cached date-time path answers exactly as the time codec", () => {
  fc.assert(
    fc.property(hl7Time, fc.constantFrom(...ZONES), (text, zone) => {
      const codec = tryHl7ToIso(text, { timeZone: zone, alwaysSeconds: true });
      assert.equal(hl7DateTimeToIso(text, zone), codec.ok ? codec.value : undefined, text);
      // Twice: the second answer comes from the cache.
      assert.equal(hl7DateTimeToIso(text, zone), codec.ok ? codec.value : undefined, text);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("every minute of DST-change days matches the codec", () => {
  for (
    const [zone, day] of [["America/Chicago", "20240310"], ["America/Chicago", "20241103"], [
      "Australia/Lord_Howe",
      "20240407",
    ], ["Australia/Lord_Howe", "20241006"]]
  ) {
    for (let m = 0; m < 24 * 60; m++) {
      const text = `${day}${pad(Math.floor(m / 60), 2)}${pad(m % 60, 2)}`;
      const codec = tryHl7ToIso(text, { timeZone: zone as string, alwaysSeconds: true });
      assert.equal(
        hl7DateTimeToIso(text, zone as string),
        codec.ok ? codec.value : undefined,
        `${zone} ${text}`,
      );
    }
  }
});

Deno.test("dates: valid days are reformatted, anything else is left to the codec", () => {
  assert.equal(hl7DayToIso("20240229"), "2024-02-29");
  assert.equal(hl7DayToIso("20230229"), undefined);
  assert.equal(hl7DayToIso("19001301"), undefined);
  assert.equal(hl7DayToIso("2024022"), undefined);
  assert.equal(hl7DayToIso("2024-2-9"), undefined);
});
