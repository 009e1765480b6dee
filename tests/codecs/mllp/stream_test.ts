import assert from "node:assert/strict";
import {
  createMllpDecoder,
  encodeMllp,
  MllpDecoderStream,
  MllpEncoderStream,
  type MllpEvent,
} from "../../../codecs/mllp/mod.ts";

const te = new TextEncoder();

function source(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  return await Array.fromAsync(stream);
}

Deno.test("mllp decoder stream emits frames and a truncated event on close", async () => {
  const wire = new Uint8Array([...encodeMllp("a"), 0x41, 0x0b, 0x42]);
  const stream = new MllpDecoderStream();
  const events = await collect(source([wire.subarray(0, 2), wire.subarray(2)]).pipeThrough(stream));
  assert.deepEqual(events, [
    { type: "frame", payload: te.encode("a") },
    { type: "skipped", bytes: 1 },
    { type: "truncated", bytes: 1 },
  ]);
  assert.equal(stream.skippedBytes, 1);
  assert.equal(stream.bufferedBytes, 0);
});

Deno.test("mllp decoder stream passes options through", async () => {
  const wire = new Uint8Array([0x0b, 1, 2, 3, 0x1c, 0x0b, 4, 0x1c]);
  const events: MllpEvent[] = await collect(
    source([wire]).pipeThrough(createMllpDecoder({ maxFrameBytes: 2, requireFinalCr: false })),
  );
  assert.deepEqual(events, [
    { type: "oversize", size: 3, limit: 2 },
    { type: "frame", payload: Uint8Array.of(4) },
  ]);
});

Deno.test("mllp encoder stream frames each chunk and round-trips through the decoder", async () => {
  const messages = ["MSH|1", "", "MSH|é€"].map((s) => te.encode(s));
  const events = await collect(
    source(messages).pipeThrough(new MllpEncoderStream()).pipeThrough(new MllpDecoderStream()),
  );
  assert.deepEqual(events, messages.map((payload) => ({ type: "frame", payload })));
});

Deno.test("mllp encoder stream errors on a payload containing a control byte", async () => {
  const stream = source([Uint8Array.of(0x41, 0x0b)]).pipeThrough(new MllpEncoderStream());
  await assert.rejects(collect(stream), { name: "MllpEncodeError" });
});
