import assert from "node:assert/strict";
import fc from "fast-check";
import { sameHl7Message } from "../../../codecs/hl7v2/mod.ts";

const enc = new TextEncoder();

/** An ORU with `sent` as MSH-7 and `value` as OBX-5, segments ended by `\r`. */
function oru(sent: string, value = "7.2", separator = "|"): Uint8Array {
  const f = separator;
  return enc.encode(
    [
      `MSH${f}^~\\&${f}LAB${f}HOSP${f}ENGINE${f}CLINIC${f}${sent}${f}${f}ORU^R01${f}42${f}P${f}2.5`,
      `PID${f}1${f}${f}MRN1`,
      `OBX${f}1${f}NM${f}GLU${f}${f}${value}`,
    ].join("\r"),
  );
}

Deno.test("sameHl7Message: the same bytes are the same message", () => {
  assert.ok(sameHl7Message(oru("20240101120000"), oru("20240101120000")));
});

Deno.test("sameHl7Message: a resend with another MSH-7 (send time) is the same message, of any length", () => {
  assert.ok(sameHl7Message(oru("20240101120000"), oru("20240101120530")));
  assert.ok(sameHl7Message(oru("20240101120000"), oru("20240101120530.1234+0100")));
  assert.ok(sameHl7Message(oru(""), oru("20240101120530")));
  assert.ok(sameHl7Message(oru("20240101120000", "7.2", "#"), oru("2024", "7.2", "#")));
});

Deno.test("sameHl7Message: another result under the same MSH-10 is another message", () => {
  assert.equal(sameHl7Message(oru("20240101120000", "7.2"), oru("20240101120000", "7.3")), false);
  assert.equal(sameHl7Message(oru("20240101120000", "7.2"), oru("20240101120530", "7.3")), false);
  // One byte more or less at the end.
  assert.equal(sameHl7Message(oru("1", "7.2"), oru("1", "7.25")), false);
});

Deno.test("sameHl7Message: a difference next to MSH-7 (MSH-6, MSH-8) is not taken for the send time", () => {
  const base = "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240101||ORU^R01|42|P|2.5\rPID|1";
  const msh6 = base.replace("|CLINIC|", "|CLINIX|");
  const msh8 = base.replace("|20240101||", "|20240101|SEC|");
  for (const other of [msh6, msh8]) {
    assert.equal(sameHl7Message(enc.encode(base), enc.encode(other)), false, other);
  }
});

Deno.test("sameHl7Message: bytes that do not begin with MSH must be equal; a UTF-8 BOM before MSH is allowed", () => {
  const a = enc.encode("FHS|^~\\&|A|B|C|D|20240101\rMSH|^~\\&|X");
  const b = enc.encode("FHS|^~\\&|A|B|C|D|20240102\rMSH|^~\\&|X");
  assert.equal(sameHl7Message(a, b), false);
  assert.ok(sameHl7Message(a, a.slice()));
  const bom = (bytes: Uint8Array) => new Uint8Array([0xef, 0xbb, 0xbf, ...bytes]);
  assert.ok(sameHl7Message(bom(oru("1")), bom(oru("2"))));
  assert.equal(sameHl7Message(bom(oru("1")), oru("1")), false, "a BOM on one copy only");
  // An MSH ending before MSH-7 is compared whole.
  assert.equal(sameHl7Message(enc.encode("MSH|^~\\&|A|B"), enc.encode("MSH|^~\\&|A|C")), false);
  assert.equal(sameHl7Message(new Uint8Array(), new Uint8Array()), true);
});

Deno.test("sameHl7Message: any two different messages stay different whatever their send times", () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 20 }).filter((s) => !/[|\r\n]/.test(s)),
      fc.string({ maxLength: 20 }).filter((s) => !/[|\r\n]/.test(s)),
      fc.string({ minLength: 1, maxLength: 30 }),
      fc.string({ minLength: 1, maxLength: 30 }),
      (t1, t2, v1, v2) => {
        const same = sameHl7Message(oru(t1, v1), oru(t2, v2));
        assert.equal(same, v1 === v2, `${JSON.stringify([t1, t2, v1, v2])}`);
      },
    ),
  );
});
