import assert from "node:assert/strict";
import { Hl7TimeError, isoToHl7, nowHl7, tryIsoToHl7 } from "../../../codecs/time/mod.ts";

const chicago = { timeZone: "America/Chicago" };

Deno.test("isoToHl7 writes dates at their own precision", () => {
  assert.equal(isoToHl7("2024"), "2024");
  assert.equal(isoToHl7("2024-03"), "202403");
  assert.equal(isoToHl7("2024-03-15"), "20240315");
  assert.equal(isoToHl7("2024-03-15", chicago), "20240315");
});

Deno.test("isoToHl7 writes an instant in the facility zone with its offset", () => {
  assert.equal(isoToHl7("2024-03-15T17:30:00Z", chicago), "20240315123000-0500");
  assert.equal(isoToHl7("2024-01-15T18:30:00Z", chicago), "20240115123000-0600");
  assert.equal(isoToHl7("2024-03-15T23:30:00Z", { timeZone: "Asia/Tokyo" }), "20240316083000+0900");
  assert.equal(isoToHl7("2024-07-01T12:00Z", { timeZone: "Asia/Kathmandu" }), "202407011745+0545");
  assert.equal(
    isoToHl7("2024-07-01T12:00Z", { timeZone: "America/St_Johns" }),
    "202407010930-0230",
  );
});

Deno.test("isoToHl7 writes UTC with +0000 when no zone is given", () => {
  assert.equal(isoToHl7("2024-03-15T17:30:00Z"), "20240315173000+0000");
  assert.equal(isoToHl7("2024-03-15T17:30:00-05:00"), "20240315223000+0000");
});

Deno.test("isoToHl7 accepts explicit offsets in +HH:MM, +HHMM and +HH form", () => {
  assert.equal(isoToHl7("2024-03-15T19:30:00+02:00", chicago), "20240315123000-0500");
  assert.equal(isoToHl7("2024-03-15T19:30:00+0200", chicago), "20240315123000-0500");
  assert.equal(isoToHl7("2024-03-15T19:30:00+02", chicago), "20240315123000-0500");
  assert.equal(isoToHl7("2024-03-15T12:30:00-05:00", chicago), "20240315123000-0500");
});

Deno.test("isoToHl7 keeps minute precision and fractional seconds", () => {
  assert.equal(isoToHl7("2024-03-15T17:30Z", chicago), "202403151230-0500");
  assert.equal(isoToHl7("2024-03-15T17:30:05.1Z", chicago), "20240315123005.1-0500");
  assert.equal(isoToHl7("2024-03-15T17:30:05.1230Z", chicago), "20240315123005.1230-0500");
});

Deno.test("isoToHl7 truncates fractional seconds to HL7's four digits", () => {
  assert.equal(isoToHl7("2024-03-15T17:30:05.123456Z"), "20240315173005.1234+0000");
  assert.equal(isoToHl7("2024-03-15T17:30:05.99999Z"), "20240315173005.9999+0000");
});

Deno.test("isoToHl7 offset:false writes the wall time only", () => {
  assert.equal(
    isoToHl7("2024-03-15T17:30:00Z", { ...chicago, offset: false }),
    "20240315123000",
  );
  assert.equal(isoToHl7("2024-03-15T17:30Z", { offset: false }), "202403151730");
});

Deno.test("isoToHl7 reads a date-time without designator as local time", () => {
  assert.equal(isoToHl7("2024-03-15T12:30", chicago), "202403151230-0500");
  assert.equal(isoToHl7("2024-03-15T12:30:00"), "20240315123000");
  // In the spring-forward gap the wall time moves forward, as in hl7ToIso.
  assert.equal(isoToHl7("2024-03-10T02:30", chicago), "202403100330-0500");
});

Deno.test("isoToHl7 writes both sides of the Chicago fall-back overlap distinctly", () => {
  assert.equal(isoToHl7("2024-11-03T06:30:00Z", chicago), "20241103013000-0500");
  assert.equal(isoToHl7("2024-11-03T07:30:00Z", chicago), "20241103013000-0600");
});

Deno.test("isoToHl7 rejects malformed or out-of-range ISO values", () => {
  for (
    const [value, code] of [
      ["", "syntax"],
      ["2024-3-15", "syntax"],
      ["20240315", "syntax"],
      ["2024-03-15+02:00", "syntax"],
      ["2024-03-15T12Z", "syntax"],
      ["2024-03-15T12:30:00+5", "syntax"],
      ["2024-13-01", "range"],
      ["2023-02-29", "range"],
      ["2024-03-15T24:00:00Z", "range"],
      ["2024-03-15T12:30:00+15:00", "range"],
    ] as const
  ) {
    assert.throws(() => isoToHl7(value), (e: unknown) => {
      assert.ok(e instanceof Hl7TimeError);
      assert.equal(e.code, code, `${value}: ${e.message}`);
      assert.ok(e.message.startsWith(`Invalid ISO 8601 date/time ${JSON.stringify(value)}`));
      return true;
    });
  }
});

Deno.test("isoToHl7 refuses a local-mean-time offset HL7 cannot write", () => {
  const result = tryIsoToHl7("1880-01-01T12:00:00Z", chicago);
  assert.ok(!result.ok && result.error.code === "unrepresentable");
  assert.equal(isoToHl7("1880-01-01T12:00:00Z"), "18800101120000+0000");
});

Deno.test("isoToHl7 rejects an unknown time zone", () => {
  const result = tryIsoToHl7("2024-03-15", { timeZone: "Atlantis/Capital" });
  assert.ok(!result.ok && result.error.code === "time-zone");
  assert.deepEqual(tryIsoToHl7("2024-03-15"), { ok: true, value: "20240315" });
});

Deno.test("nowHl7 formats a Date for MSH-7 in a zone or in UTC", () => {
  const date = new Date(Date.UTC(2024, 6, 4, 12, 0, 5, 999));
  assert.equal(nowHl7(date, chicago), "20240704070005-0500");
  assert.equal(nowHl7(date), "20240704120005+0000");
  assert.equal(nowHl7(date, { timeZone: "Asia/Tokyo", offset: false }), "20240704210005");
  assert.equal(nowHl7(new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 500))), "19691231235959+0000");
});

Deno.test("nowHl7 defaults to the current time", () => {
  assert.match(nowHl7(), /^\d{14}\+0000$/);
});

Deno.test("nowHl7 rejects an invalid Date", () => {
  assert.throws(() => nowHl7(new Date(Number.NaN)), Hl7TimeError);
});

Deno.test("isoToHl7 applies half- and quarter-hour offsets with their sign", () => {
  assert.equal(isoToHl7("2024-03-15T12:30:00+05:30"), "20240315070000+0000");
  assert.equal(isoToHl7("2024-03-15T12:30:00-03:30"), "20240315160000+0000");
  assert.equal(isoToHl7("2024-03-15T12:30+0545"), "202403150645+0000");
  assert.equal(
    isoToHl7("2024-03-15T12:30:00.25+05:30", { timeZone: "America/New_York" }),
    "20240315030000.25-0400",
  );
});

Deno.test("isoToHl7 resolves New York's DST gap forward and its overlap to the earlier instant", () => {
  const ny = { timeZone: "America/New_York" };
  assert.equal(isoToHl7("2024-03-10T02:30", ny), "202403100330-0400");
  assert.equal(isoToHl7("2024-11-03T01:30", ny), "202411030130-0400");
  assert.equal(isoToHl7("2024-11-03T01:30-05:00", ny), "202411030130-0500");
});

Deno.test("isoToHl7 rejects leap seconds, impossible offsets and stray text", () => {
  for (
    const [value, code] of [
      ["2024-12-31T23:59:60Z", "range"],
      ["2024-03-15T12:30:00+24:00", "range"],
      ["2024-03-15T12:30:00+05:60", "range"],
      ["2024-03-15T12:30:00.Z", "syntax"],
      ["2024-03-15Z", "syntax"],
      [" 2024-03-15", "syntax"],
      ["2024-03-15T12:30:00Z ", "syntax"],
      ["2024-03-15 12:30", "syntax"],
      ["20240315T123000Z", "syntax"],
      ["yesterday", "syntax"],
    ] as const
  ) {
    const result = tryIsoToHl7(value, chicago);
    assert.ok(!result.ok, `${value} converted to ${result.ok && result.value}`);
    assert.ok(result.error instanceof Hl7TimeError);
    assert.equal(result.error.code, code, `${value}: ${result.error.message}`);
    assert.equal(result.error.value, value);
  }
});
