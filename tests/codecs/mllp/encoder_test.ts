import assert from "node:assert/strict";
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeMllp,
  MLLP_CR,
  MLLP_END,
  MLLP_START,
  MllpEncodeError,
} from "../../../codecs/mllp/mod.ts";

Deno.test("mllp constants have the protocol values", () => {
  assert.equal(MLLP_START, 0x0b);
  assert.equal(MLLP_END, 0x1c);
  assert.equal(MLLP_CR, 0x0d);
  assert.equal(DEFAULT_MAX_FRAME_BYTES, 31457280);
});

Deno.test("mllp encoder wraps bytes in start and end blocks", () => {
  assert.deepEqual(encodeMllp(Uint8Array.of(1, 2)), Uint8Array.of(0x0b, 1, 2, 0x1c, 0x0d));
  assert.deepEqual(encodeMllp(new Uint8Array(0)), Uint8Array.of(0x0b, 0x1c, 0x0d));
});

Deno.test("mllp encoder encodes strings as UTF-8", () => {
  assert.deepEqual(encodeMllp("é"), Uint8Array.of(0x0b, 0xc3, 0xa9, 0x1c, 0x0d));
});

Deno.test("mllp encoder rejects payloads with framing bytes, naming the offset", () => {
  assert.throws(() => encodeMllp("ab\x1cc"), (e: unknown) => {
    assert.ok(e instanceof MllpEncodeError);
    assert.equal(e.offset, 2);
    assert.match(e.message, /0x1c at offset 2/);
    return true;
  });
  assert.throws(() => encodeMllp(Uint8Array.of(0x0b, 0x1c)), /0x0b at offset 0/);
});

Deno.test("mllp encoder skips validation when told to", () => {
  assert.deepEqual(
    encodeMllp(Uint8Array.of(0x0b), { validate: false }),
    Uint8Array.of(0x0b, 0x0b, 0x1c, 0x0d),
  );
});

Deno.test("mllp encoder copies the payload", () => {
  const payload = Uint8Array.of(1, 2, 3);
  const framed = encodeMllp(payload);
  payload[0] = 9;
  assert.equal(framed[1], 1);
});
