import assert from "node:assert/strict";
import fc from "fast-check";
import { hl7ResendDigest, sameHl7Message } from "../../../codecs/hl7v2/mod.ts";

const enc = new TextEncoder();

/** An ORU with send time `time` and OBX-5 `value`, segments ended by `end` (and `last` after). */
function oru(time: string, value = "7.2", end = "\r", last = end): Uint8Array {
  return enc.encode(
    [
      `MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|${time}||ORU^R01|42|P|2.5`,
      "PID|1||MRN1",
      `OBX|1|NM|GLU||${value}`,
    ].join(end) + last,
  );
}

/** Same message: compared equal, and equal digests. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  const equal = sameHl7Message(a, b);
  assert.equal(hl7ResendDigest(a) === hl7ResendDigest(b), equal, "the digest agrees");
  return equal;
}

Deno.test("sameHl7Message: CR, LF and CR LF segment ends are the same message, MSH-7 aside too", () => {
  const base = oru("20240101120000");
  assert.ok(same(base, oru("20240101120000", "7.2", "\r\n")));
  assert.ok(same(base, oru("20240101120000", "7.2", "\n")));
  assert.ok(same(base, oru("20240101123000", "7.2", "\r\n")));
  assert.ok(same(oru("20240101120000", "7.2", "\n"), oru("2024", "7.2", "\r\n")));
});

Deno.test("sameHl7Message: what follows the last segment (none, CR, CR LF, blank lines) does not matter", () => {
  const base = oru("20240101120000");
  for (const last of ["", "\r\n", "\n", "\r\r", "\r\n\r\n"]) {
    assert.ok(same(base, oru("20240101120000", "7.2", "\r", last)), JSON.stringify(last));
  }
});

Deno.test("sameHl7Message: another value, or an empty segment more inside, is another message whatever the line ends", () => {
  const base = oru("20240101120000");
  assert.equal(same(base, oru("20240101120000", "7.3", "\r\n")), false);
  const blank = enc.encode(new TextDecoder().decode(base).replace("\rPID", "\r\r\nPID"));
  assert.equal(same(base, blank), false, "an empty segment between two");
  assert.equal(same(base, oru("20240101120000", "7.2", "\r\r")), false, "empty segments");
  assert.equal(same(enc.encode("ABC\r\nD"), enc.encode("ABC\rD")), true, "not HL7: line ends");
  assert.equal(same(enc.encode("ABC\r\nD"), enc.encode("ABCD")), false);
});

Deno.test("sameHl7Message: any two different messages stay different whatever their send times and line ends", () => {
  const text = fc.string({ maxLength: 12 }).filter((s) => !/[\r\n|]/.test(s));
  const ending = fc.constantFrom("\r", "\n", "\r\n");
  fc.assert(
    fc.property(text, text, text, text, ending, ending, (t1, t2, v1, v2, e1, e2) => {
      assert.equal(same(oru(t1, v1, e1), oru(t2, v2, e2)), v1 === v2);
    }),
    { numRuns: 300 },
  );
});
