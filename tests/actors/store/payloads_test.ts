/**
 * Inline payloads: deflated with a window sized to the payload, which must store what zlib's
 * default window would and read back as they came.
 * @module
 */

import assert from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import {
  DEFLATE_FROM,
  INLINE_MAX,
  inlinePayload,
  readPayload,
} from "../../../actors/store/payloads.ts";
import type { MessageRecord } from "../../../actors/store/types.ts";

const encoder = new TextEncoder();

/**
 * HL7-like text: segments drawn from a few random ones, with the repetition deflate lives on,
 * from just over the deflate threshold to the inline limit.
 */
const hl7ish = fc.tuple(
  fc.array(
    fc.tuple(
      fc.constantFrom("PID", "PV1", "OBR", "OBX", "NTE"),
      fc.array(fc.string({ maxLength: 12 }), { maxLength: 12 }),
    ).map(([name, fields]) => `${name}|${fields.join("|")}\r`),
    { minLength: 1, maxLength: 12 },
  ),
  fc.array(fc.nat(), { minLength: 1, maxLength: 600 }),
).map(([segments, picks]) => {
  let text = "MSH|^~\\&|LAB|HOSP|||20240101120000||ORU^R01|1|P|2.5\r";
  for (const i of picks) text += segments[i % segments.length];
  return encoder.encode(text).subarray(0, INLINE_MAX);
}).filter((b) => b.length > DEFLATE_FROM);

Deno.test("an inline payload is deflated to the bytes zlib's default window gives, and inflates back", () => {
  fc.assert(
    fc.property(hl7ish, (payload) => {
      const stored = inlinePayload(payload);
      const reference = deflateRawSync(payload, { level: 3 });
      if (reference.length >= payload.length) {
        assert.equal(stored.deflated, undefined);
        return;
      }
      assert.equal(stored.deflated, true);
      assert.deepEqual(new Uint8Array(inflateRawSync(stored.inline!)), payload);
      assert.deepEqual(stored.inline, new Uint8Array(reference));
    }),
    // A fixed seed: zlib promises the same stream only for the same settings, so these cases pin
    // that a window and hash sized to the payload found the very same matches here (a window too
    // small by zlib's 262-byte lookahead did not).
    { numRuns: 1000, seed: 20261204 },
  );
});

Deno.test("an inline payload that inflates to another size than its record's is refused, naming the message", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const text = encoder.encode("OBX|1|TX|||result text\r".repeat(60));
    const fields = inlinePayload(text);
    assert.equal(fields.deflated, true);
    const record: MessageRecord = {
      id: "m1",
      origin: { kind: "integration", id: "feed" },
      receivedAt: 0,
      contentType: "application/hl7-v2",
      ...fields,
      size: text.length + 1,
    };
    await assert.rejects(
      readPayload(kv, record),
      /message m1: payload has 1380 of 1381 bytes in KV/,
    );
    assert.deepEqual(await readPayload(kv, { ...record, size: text.length }), text);
  } finally {
    kv.close();
  }
});
