/**
 * Raw deflate and inflate with kept zlib streams: the very bytes of `deflateRawSync` and
 * `inflateRawSync`, call after call, whatever came before (other settings, output that did not
 * fit, damaged input, inputs larger than the scratch buffer).
 * @module
 */

import assert from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import { deflateSmaller, inflateExact, keepsStreams } from "../../../actors/store/raw_deflate.ts";

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
