import assert from "node:assert/strict";
import { Hl7TimeError, hl7ToIso, tryHl7ToIso } from "../../../codecs/time/mod.ts";

const chicago = { timeZone: "America/Chicago" };
const utc = { timeZone: "UTC" };

Deno.test("hl7ToIso keeps date precision without inventing a time", () => {
  assert.equal(hl7ToIso("2024", chicago), "2024");
  assert.equal(hl7ToIso("202403", chicago), "2024-03");
  assert.equal(hl7ToIso("20240315", chicago), "2024-03-15");
  assert.equal(hl7ToIso("20240229", chicago), "2024-02-29");
});

Deno.test("hl7ToIso ignores a UTC offset on a date (ISO has no zoned dates)", () => {
  assert.equal(hl7ToIso("20240315-0500", chicago), "2024-03-15");
  assert.equal(hl7ToIso("202403+1400", chicago), "2024-03");
});

Deno.test("hl7ToIso ignores the deprecated TS.2 degree-of-precision component", () => {
  assert.equal(hl7ToIso("20240315^D", chicago), "2024-03-15");
  assert.equal(hl7ToIso("202403151230-0500^M", chicago), "2024-03-15T17:30Z");
});

Deno.test("hl7ToIso applies an explicit offset and writes UTC", () => {
  assert.equal(hl7ToIso("202403151230-0500", chicago), "2024-03-15T17:30Z");
  assert.equal(hl7ToIso("20240315123005+0530", chicago), "2024-03-15T07:00:05Z");
  assert.equal(hl7ToIso("20240315000000+0100", chicago), "2024-03-14T23:00:00Z");
  assert.equal(hl7ToIso("20240315123000-0000", chicago), "2024-03-15T12:30:00Z");
  assert.equal(hl7ToIso("20241231233000-1200", chicago), "2025-01-01T11:30:00Z");
});

Deno.test("hl7ToIso keeps minute, second and fractional precision as written", () => {
  assert.equal(hl7ToIso("202403151230+0000", utc), "2024-03-15T12:30Z");
  assert.equal(hl7ToIso("20240315123005+0000", utc), "2024-03-15T12:30:05Z");
  assert.equal(hl7ToIso("20240315123005.1+0000", utc), "2024-03-15T12:30:05.1Z");
  assert.equal(hl7ToIso("20240315123005.10+0000", utc), "2024-03-15T12:30:05.10Z");
  assert.equal(hl7ToIso("20240315123005.1234-0500", utc), "2024-03-15T17:30:05.1234Z");
});

Deno.test("hl7ToIso writes hour precision with minutes, as ISO requires HH:MM", () => {
  assert.equal(hl7ToIso("2024031512+0000", utc), "2024-03-15T12:00Z");
  assert.equal(hl7ToIso("2024031512+0530", utc), "2024-03-15T06:30Z");
});

Deno.test("hl7ToIso alwaysSeconds writes seconds for every date-time", () => {
  const opts = { timeZone: "UTC", alwaysSeconds: true };
  assert.equal(hl7ToIso("202403151230", opts), "2024-03-15T12:30:00Z");
  assert.equal(hl7ToIso("2024031512", opts), "2024-03-15T12:00:00Z");
  assert.equal(hl7ToIso("20240315123005.25", opts), "2024-03-15T12:30:05.25Z");
  assert.equal(hl7ToIso("20240315", opts), "2024-03-15");
});

Deno.test("hl7ToIso reads offset-less values in the facility time zone", () => {
  assert.equal(hl7ToIso("202401151230", chicago), "2024-01-15T18:30Z"); // CST, -6
  assert.equal(hl7ToIso("202407151230", chicago), "2024-07-15T17:30Z"); // CDT, -5
  assert.equal(
    hl7ToIso("20240715123005.5", { timeZone: "Europe/London" }),
    "2024-07-15T11:30:05.5Z",
  );
  assert.equal(hl7ToIso("202407151230", { timeZone: "Asia/Kathmandu" }), "2024-07-15T06:45Z");
});

Deno.test("hl7ToIso crosses UTC midnight forward for a late evening in New York", () => {
  assert.equal(hl7ToIso("202403152330", { timeZone: "America/New_York" }), "2024-03-16T03:30Z");
  assert.equal(hl7ToIso("202412312330", { timeZone: "America/New_York" }), "2025-01-01T04:30Z");
});

Deno.test("hl7ToIso crosses UTC midnight backward for a Tokyo morning", () => {
  assert.equal(hl7ToIso("202403150830", { timeZone: "Asia/Tokyo" }), "2024-03-14T23:30Z");
  assert.equal(hl7ToIso("20250101060000", { timeZone: "Asia/Tokyo" }), "2024-12-31T21:00:00Z");
});

Deno.test("hl7ToIso moves a wall time in the Chicago spring-forward gap forward", () => {
  // 2024-03-10 02:00-02:59 does not exist in Chicago; like Temporal "compatible",
  // 02:30 is read as 03:30 CDT.
  assert.equal(hl7ToIso("202403100159", chicago), "2024-03-10T07:59Z");
  assert.equal(hl7ToIso("202403100200", chicago), "2024-03-10T08:00Z");
  assert.equal(hl7ToIso("202403100230", chicago), "2024-03-10T08:30Z");
  assert.equal(hl7ToIso("202403100300", chicago), "2024-03-10T08:00Z");
});

Deno.test("hl7ToIso picks the earlier instant in the Chicago fall-back overlap", () => {
  // 2024-11-03 01:00-01:59 happens twice (CDT then CST); the earlier (CDT) instant wins.
  assert.equal(hl7ToIso("202411030059", chicago), "2024-11-03T05:59Z");
  assert.equal(hl7ToIso("202411030130", chicago), "2024-11-03T06:30Z");
  assert.equal(hl7ToIso("20241103015959", chicago), "2024-11-03T06:59:59Z");
  assert.equal(hl7ToIso("202411030200", chicago), "2024-11-03T08:00Z");
});

Deno.test("hl7ToIso handles a half-hour DST gap (Lord Howe Island)", () => {
  // 2024-10-06 02:00-02:29 does not exist there (+10:30 → +11:00).
  const lordHowe = { timeZone: "Australia/Lord_Howe" };
  assert.equal(hl7ToIso("202410060215", lordHowe), "2024-10-05T15:45Z");
  assert.equal(hl7ToIso("202410060230", lordHowe), "2024-10-05T15:30Z");
});

Deno.test("hl7ToIso widens to seconds when a local-mean-time offset needs them", () => {
  // Chicago kept local mean time (-5:50:36) until 1883.
  assert.equal(hl7ToIso("188001011200", chicago), "1880-01-01T17:50:36Z");
});

Deno.test("hl7ToIso rejects results outside years 0001-9999", () => {
  assert.throws(
    () => hl7ToIso("99991231233000-0100", utc),
    (e: unknown) => e instanceof Hl7TimeError && e.code === "unrepresentable",
  );
  assert.throws(() => hl7ToIso("00010101000000+0100", utc), /year 0/);
});

Deno.test("hl7ToIso rejects an unknown time zone with a typed error", () => {
  assert.throws(
    () => hl7ToIso("20240315", { timeZone: "Mars/Olympus_Mons" }),
    (e: unknown) => {
      assert.ok(e instanceof Hl7TimeError);
      assert.equal(e.code, "time-zone");
      assert.equal(e.value, "Mars/Olympus_Mons");
      assert.match(e.message, /Unknown time zone "Mars\/Olympus_Mons"/);
      return true;
    },
  );
});

Deno.test("tryHl7ToIso returns a result instead of throwing", () => {
  assert.deepEqual(tryHl7ToIso("20240315", chicago), { ok: true, value: "2024-03-15" });
  const bad = tryHl7ToIso("20241315", chicago);
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.error instanceof Hl7TimeError && bad.error.code === "range");
  const zone = tryHl7ToIso("20240315", { timeZone: "Nowhere/Land" });
  assert.ok(!zone.ok && zone.error.code === "time-zone");
});

Deno.test("hl7ToIso applies the extreme real offsets and signed half/quarter-hour offsets", () => {
  assert.equal(hl7ToIso("202403151230+1400", chicago), "2024-03-14T22:30Z"); // Kiritimati
  assert.equal(hl7ToIso("202403151230-1200", chicago), "2024-03-16T00:30Z");
  assert.equal(hl7ToIso("202403151230+0545", chicago), "2024-03-15T06:45Z"); // Kathmandu
  // The sign applies to the minutes as well: -0330 is 3 h 30 min behind UTC.
  assert.equal(hl7ToIso("202403151230-0330", chicago), "2024-03-15T16:00Z");
});

Deno.test("hl7ToIso resolves New York's DST gap forward and its overlap to the earlier instant", () => {
  const ny = { timeZone: "America/New_York" };
  // 2024-03-10 02:30 does not exist (02:00 EST → 03:00 EDT): read as 03:30 EDT.
  assert.equal(hl7ToIso("202403100230", ny), "2024-03-10T07:30Z");
  // 2024-11-03 01:30 happens twice (EDT, then EST): the earlier, EDT, instant.
  assert.equal(hl7ToIso("202411030130", ny), "2024-11-03T05:30Z");
  assert.equal(hl7ToIso("202411030130-0500", ny), "2024-11-03T06:30Z"); // the later one, explicit
});

Deno.test("hl7ToIso refuses to fall back to the host zone when no time zone is given", () => {
  // A JS caller or an unchecked config can pass undefined; Intl would then use the host zone.
  const result = tryHl7ToIso("202403151230", { timeZone: undefined as unknown as string });
  assert.ok(!result.ok, `converted to ${result.ok && result.value}`);
  assert.equal(result.error.code, "time-zone");
  assert.match(result.error.message, /no time zone given/);
});
