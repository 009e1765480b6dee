/**
 * Bytes read as text one to one and back: any bytes round-trip exactly, offsets in the text are
 * offsets in the bytes, and a character with no byte is refused, never cut to its low byte.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { latin1Decode, latin1Encode, NotLatin1Error } from "../../../codecs/text/mod.ts";

Deno.test("latin1Decode and latin1Encode give back any bytes exactly", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40_000 }), (bytes) => {
      const text = latin1Decode(bytes);
      assert.equal(text.length, bytes.length);
      for (let i = 0; i < bytes.length; i++) assert.equal(text.charCodeAt(i), bytes[i]);
      assert.deepEqual(latin1Encode(text), bytes);
    }),
    { numRuns: 200 },
  );
});

Deno.test("latin1Decode maps 0x80-0x9F to U+0080-U+009F, unlike the WHATWG latin1 label", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const text = latin1Decode(bytes);
  for (let i = 0; i < 256; i++) assert.equal(text.codePointAt(i), i);
  // What the engine used before: windows-1252, 0x85 is `…` U+2026 and 0x93 `“` U+201C.
  const whatwg = new TextDecoder("latin1").decode(bytes);
  assert.equal(whatwg.charCodeAt(0x85), 0x2026);
  assert.notEqual(whatwg, text);
  // A large input (more than one chunk) as well.
  const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
  assert.deepEqual(latin1Encode(latin1Decode(big)), big);
});

Deno.test("latin1Encode throws on any character above U+00FF instead of keeping its low byte", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 50 }),
      fc.integer({ min: 0x100, max: 0xffff }),
      fc.string({ unit: "binary", maxLength: 50 }),
      (before, code, after) => {
        const head = latin1Decode(new TextEncoder().encode(before));
        const text = head + String.fromCharCode(code) + after;
        assert.throws(
          () => latin1Encode(text),
          (e: unknown) => e instanceof NotLatin1Error && e.offset === head.length,
        );
      },
    ),
    { numRuns: 300 },
  );
  assert.throws(() => latin1Encode("O\u2019Brien"), /U\+2019 at offset 1/);
  assert.deepEqual(latin1Encode("\u00ff\u0000\u0085"), new Uint8Array([0xff, 0, 0x85]));
});
