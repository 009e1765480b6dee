import assert from "node:assert/strict";
import { Hl7TimeError, type Hl7TimeErrorCode, hl7ToIso } from "../../../codecs/time/mod.ts";

/** Asserts a typed error whose message names the value and matches `reason`. */
function rejects(value: string, code: Hl7TimeErrorCode, reason: RegExp): void {
  assert.throws(() => hl7ToIso(value, { timeZone: "America/Chicago" }), (e: unknown) => {
    assert.ok(e instanceof Hl7TimeError, `not an Hl7TimeError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.value, value);
    assert.ok(e.message.includes(JSON.stringify(value)), e.message);
    assert.match(e.message, reason);
    return true;
  });
}

Deno.test("hl7ToIso rejects an empty value", () => rejects("", "syntax", /empty value/));

Deno.test("hl7ToIso rejects letters and names their position", () => {
  rejects("2024O315", "syntax", /unexpected character "O" at position 5/);
  rejects("abcd", "syntax", /unexpected character "a" at position 1/);
  rejects("20240315 ", "syntax", /unexpected character " " at position 9/);
  rejects("20240315123000.1a", "syntax", /unexpected character "a"/);
});

Deno.test("hl7ToIso rejects wrong digit counts", () => {
  rejects("202", "syntax", /3 digits; expected 4, 6, 8, 10, 12 or 14/);
  rejects("20241", "syntax", /5 digits/);
  rejects("2024031", "syntax", /7 digits/);
  rejects("202403151", "syntax", /9 digits/);
  rejects("2024031512305", "syntax", /13 digits/);
  rejects("202403151230001", "syntax", /15 digits/);
});

Deno.test("hl7ToIso rejects month 00 and 13", () => {
  rejects("202413", "range", /month 13 is out of range 01-12/);
  rejects("20240015", "range", /month 00/);
});

Deno.test("hl7ToIso rejects days that do not exist in the month", () => {
  rejects("20240431", "range", /day 31 does not exist in April/);
  rejects("20240100", "range", /day 00 does not exist in January/);
  rejects("20240230", "range", /day 30 does not exist in February/);
});

Deno.test("hl7ToIso rejects 29 February of a common year", () => {
  rejects("20230229", "range", /day 29 does not exist in February \(2023 is not a leap year\)/);
  rejects("19000229", "range", /1900 is not a leap year/);
  assert.equal(hl7ToIso("20000229", { timeZone: "UTC" }), "2000-02-29");
});

Deno.test("hl7ToIso rejects hour 24, minute 60 and second 60", () => {
  rejects("2024031524", "range", /hour 24 is out of range 00-23/);
  rejects("202403152400", "range", /hour 24/);
  rejects("202403151260", "range", /minute 60 is out of range 00-59/);
  rejects("20240315123060", "range", /second 60 is out of range 00-59/);
});

Deno.test("hl7ToIso rejects year 0000", () => rejects("0000", "range", /year 0000/));

Deno.test("hl7ToIso rejects out-of-range offsets", () => {
  rejects("202403151230+2500", "range", /UTC offset 2500 is out of range/);
  rejects("202403151230-1500", "range", /UTC offset 1500/);
  rejects("202403151230+0560", "range", /UTC offset 0560/);
  rejects("202403151230+2400", "range", /UTC offset 2400/);
  rejects("202403151230-2400", "range", /UTC offset 2400/);
});

Deno.test("hl7ToIso rejects malformed offsets", () => {
  rejects("202403151230+05", "syntax", /UTC offset "\+05" must be \+HHMM or -HHMM/);
  rejects("202403151230+05:00", "syntax", /UTC offset "\+05:00"/);
  rejects("202403151230+", "syntax", /UTC offset "\+"/);
  rejects("2024-03-15", "syntax", /UTC offset "-03-15"/);
  rejects("-0500", "syntax", /0 digits/);
});

Deno.test("hl7ToIso rejects misplaced or overlong fractional seconds", () => {
  rejects("202403151230.5", "syntax", /fractional seconds require seconds/);
  rejects("20240315123000.", "syntax", /1 to 4 digits, got 0/);
  rejects("20240315123000.12345", "syntax", /1 to 4 digits, got 5/);
});

Deno.test("hl7ToIso rejects an empty value before a component separator", () => {
  rejects("^S", "syntax", /empty value/);
});

Deno.test('hl7ToIso rejects the HL7 null "" and whitespace instead of trimming or guessing', () => {
  rejects('""', "syntax", /unexpected character """ at position 1/);
  rejects(" 20240315", "syntax", /unexpected character " " at position 1/);
  rejects("20240315\r", "syntax", /unexpected character "\r" at position 9/);
  rejects("   ", "syntax", /unexpected character " " at position 1/);
});
