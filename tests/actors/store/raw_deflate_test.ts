/**
 * Raw deflate and inflate with kept zlib streams: the very bytes of `deflateRawSync` and
 * `inflateRawSync`, call after call, whatever came before (other settings, output that did not
 * fit, damaged input, inputs larger than the scratch buffer).
 * @module
 */

import assert from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import {
  deflateSmaller,
  deflateWithDictionary,
  inflateExact,
  keepsStreams,
  MAX_DICTIONARY_BYTES,
  MAX_WITH_DICTIONARY,
} from "../../../actors/store/raw_deflate.ts";

const options = fc.record({
  level: fc.integer({ min: 1, max: 9 }),
  windowBits: fc.integer({ min: 9, max: 15 }),
  memLevel: fc.integer({ min: 1, max: 9 }),
});

/** Text deflate shrinks, random bytes it does not, and a mix of both. */
const payload = fc.oneof(
  fc.string({ minLength: 1, maxLength: 3000 }).map((s) => new TextEncoder().encode(s.repeat(3))),
  fc.uint8Array({ minLength: 1, maxLength: 2000 }),
  fc.tuple(fc.uint8Array({ maxLength: 500 }), fc.string({ maxLength: 500 })).map(([a, s]) =>
    new Uint8Array([...a, ...new TextEncoder().encode(s.repeat(4))])
  ),
);

function reference(input: Uint8Array, o: Parameters<typeof deflateSmaller>[1]) {
  const packed = new Uint8Array(deflateRawSync(input, o));
  return packed.length < input.length ? packed : undefined;
}

Deno.test("payloads are deflated by kept streams on this runtime, not a stream per call", () => {
  deflateSmaller(new TextEncoder().encode("MSH|".repeat(300)), {
    level: 3,
    windowBits: 11,
    memLevel: 6,
  });
  assert.equal(keepsStreams(), true);
});

Deno.test("a kept stream gives deflateRawSync's bytes for any sequence of payloads and settings", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(payload, options), { minLength: 1, maxLength: 12 }), (calls) => {
      for (const [input, o] of calls) {
        assert.deepEqual(deflateSmaller(input, o), reference(input, o));
      }
    }),
    { numRuns: 300 },
  );
  assert.equal(keepsStreams(), true);
});

Deno.test("after a payload that does not shrink, the next one still deflates exactly", () => {
  const o = { level: 3, windowBits: 12, memLevel: 7 };
  const noise = crypto.getRandomValues(new Uint8Array(1500));
  const text = new TextEncoder().encode("OBX|1|TX|||result text\r".repeat(60));
  assert.equal(deflateSmaller(noise, o), undefined);
  assert.deepEqual(deflateSmaller(text, o), reference(text, o));
});

Deno.test("a payload larger than the scratch buffer deflates exactly, and so does a small one after", () => {
  const o = { level: 3, windowBits: 15, memLevel: 8 };
  const big = new TextEncoder().encode("PID|1||12345^^^HOSP||DOE^JANE\r".repeat(4000));
  const small = new TextEncoder().encode("NTE|1||note\r".repeat(80));
  assert.ok(big.length > 64 * 1024);
  assert.deepEqual(deflateSmaller(big, o), reference(big, o));
  assert.deepEqual(deflateSmaller(small, o), reference(small, o));
});

Deno.test("a kept stream inflates what deflateRawSync made, whatever the settings, call after call", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(payload, options), { minLength: 1, maxLength: 12 }), (calls) => {
      for (const [input, o] of calls) {
        assert.deepEqual(inflateExact(deflateRawSync(input, o), input.length), input);
      }
    }),
    { numRuns: 300 },
  );
  assert.equal(keepsStreams(), true);
});

/** The error `inflateRawSync` gives for `bytes`, or undefined when it inflates them. */
function inflateError(bytes: Uint8Array): string | undefined {
  try {
    inflateRawSync(bytes);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

Deno.test("damaged input gets inflateRawSync's error, and the kept stream goes on inflating", async () => {
  const text = new TextEncoder().encode("OBX|1|TX|||result text\r".repeat(60));
  const packed = new Uint8Array(deflateRawSync(text, { level: 3 }));
  const garbage = new Uint8Array([0xff, 0xfe, 0x00, 0x12, 0x99, 0x44]);
  const truncated = packed.subarray(0, packed.length - 3);
  for (const bad of [garbage, truncated]) {
    const expected = inflateError(bad);
    assert.ok(expected, "the reference refuses it too");
    assert.throws(() => inflateExact(bad, text.length), { message: expected });
    assert.deepEqual(inflateExact(packed, text.length), text);
    // After the tick on which zlib's own error handling would have destroyed the stream.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(inflateExact(packed, text.length), text);
  }
});

Deno.test("a payload inflating to another size than recorded comes back as it inflates", () => {
  const text = new TextEncoder().encode("PID|1||12345^^^HOSP||DOE^JANE\r".repeat(40));
  const packed = new Uint8Array(deflateRawSync(text, { level: 3 }));
  // The caller compares the length with the record's size and names the damage.
  assert.deepEqual(inflateExact(packed, text.length - 1), text);
  assert.deepEqual(inflateExact(packed, text.length + 5), text);
  assert.deepEqual(inflateExact(packed, text.length), text);
});

/** Two HL7-like messages of one kind: what a dictionary is made of, and what it serves. */
function lab(n: number): Uint8Array {
  return new TextEncoder().encode(
    `MSH|^~\\&|LAB|HOSP|EHR|HOSP|2026120${n % 10}1200||ORU^R01^ORU_R01|C${n}|P|2.5.1\r` +
      `PID|1||${1000 + n}^^^HOSP^MR||DOE^JANE^${n}||19800101|F\r` +
      Array.from(
        { length: 6 },
        (_, i) => `OBX|${i + 1}|NM|2345-${i}^GLUCOSE^LN||${90 + n + i}|mg/dL|70-110|N|||F\r`,
      ).join(""),
  );
}

Deno.test("a payload deflated after a dictionary inflates back with it, for any bytes and any dictionary", () => {
  const dictionary = fc.oneof(
    fc.uint8Array({ maxLength: MAX_DICTIONARY_BYTES }),
    fc.string({ maxLength: 2000 }).map((s) => new TextEncoder().encode(s.repeat(2))),
  );
  let shrunk = 0;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(payload, dictionary), { minLength: 1, maxLength: 8 }),
      (calls) => {
        for (const [input, dict] of calls) {
          const packed = deflateWithDictionary(input, dict);
          if (!packed) continue;
          shrunk++;
          assert.ok(packed.length < input.length);
          assert.deepEqual(inflateExact(packed, input.length, dict), input);
          // Interleaved with plain payloads on the same kept streams.
          assert.deepEqual(inflateExact(deflateRawSync(input), input.length), input);
        }
      },
    ),
    { numRuns: 300 },
  );
  assert.ok(shrunk > 300, `only ${shrunk} payloads shrank`);
  assert.equal(keepsStreams(), true);
});

Deno.test("a dictionary of the same kind of message makes a payload much smaller than deflate alone", () => {
  const dict = lab(1);
  const input = lab(2);
  const alone = deflateSmaller(input, { level: 3, windowBits: 11, memLevel: 6 })!;
  const withDict = deflateWithDictionary(input, dict)!;
  assert.ok(withDict.length * 2 < alone.length, `${withDict.length} against ${alone.length}`);
  assert.deepEqual(inflateExact(withDict, input.length, dict), input);
  // Without its dictionary it does not inflate to the payload (an error, or other bytes).
  let plain: Uint8Array | undefined;
  try {
    plain = inflateExact(withDict, input.length);
  } catch {
    plain = undefined;
  }
  assert.notDeepEqual(plain, input);
});

Deno.test("deflating after a dictionary declines what is over its limits or does not shrink", () => {
  const dict = lab(1);
  assert.equal(deflateWithDictionary(new Uint8Array(), dict), undefined);
  assert.equal(
    deflateWithDictionary(crypto.getRandomValues(new Uint8Array(2000)), dict),
    undefined,
  );
  const long = new TextEncoder().encode("x".repeat(MAX_WITH_DICTIONARY + 1));
  assert.equal(deflateWithDictionary(long, dict), undefined);
  const bigDict = new Uint8Array(MAX_DICTIONARY_BYTES + 1);
  assert.equal(deflateWithDictionary(lab(2), bigDict), undefined);
  // Just within both limits it works.
  const edge = new TextEncoder().encode("OBX|1|".repeat(MAX_WITH_DICTIONARY / 6));
  const packed = deflateWithDictionary(edge, new Uint8Array(MAX_DICTIONARY_BYTES).fill(65))!;
  assert.deepEqual(
    inflateExact(packed, edge.length, new Uint8Array(MAX_DICTIONARY_BYTES).fill(65)),
    edge,
  );
});
