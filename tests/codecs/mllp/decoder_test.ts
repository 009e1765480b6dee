import assert from "node:assert/strict";
import { encodeMllp, MllpDecoder, type MllpEvent } from "../../../codecs/mllp/mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const bytes = (...parts: (string | number[])[]): Uint8Array => {
  const arrays = parts.map((p) => typeof p === "string" ? te.encode(p) : Uint8Array.from(p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
};
const VT = [0x0b];
const END = [0x1c, 0x0d];

/** Feeds the chunks, then ends, and returns every event with payloads as text. */
function run(decoder: MllpDecoder, chunks: Uint8Array[]): unknown[] {
  const events: MllpEvent[] = [];
  for (const c of chunks) events.push(...decoder.push(c));
  events.push(...decoder.end());
  return events.map((e) => e.type === "frame" ? { type: "frame", text: td.decode(e.payload) } : e);
}

Deno.test("mllp decoder emits one frame for one complete read", () => {
  assert.deepEqual(run(new MllpDecoder(), [encodeMllp("MSH|^~\\&|A")]), [
    { type: "frame", text: "MSH|^~\\&|A" },
  ]);
});

Deno.test("mllp decoder finds a frame split across reads at every byte", () => {
  const wire = bytes("xx", VT, "MSH|1\rPID|2", END, VT, "MSH|3", END);
  for (let cut = 0; cut <= wire.length; cut++) {
    for (let cut2 = cut; cut2 <= wire.length; cut2++) {
      const events = run(new MllpDecoder(), [
        wire.subarray(0, cut),
        wire.subarray(cut, cut2),
        wire.subarray(cut2),
      ]);
      const frames = events.filter((e) => (e as MllpEvent).type === "frame");
      assert.deepEqual(frames, [
        { type: "frame", text: "MSH|1\rPID|2" },
        { type: "frame", text: "MSH|3" },
      ], `cuts ${cut},${cut2}`);
    }
  }
});

Deno.test("mllp decoder handles one-byte reads", () => {
  const wire = bytes(VT, "abc", END, VT, END);
  const chunks = [...wire].map((b) => Uint8Array.of(b));
  assert.deepEqual(run(new MllpDecoder(), chunks), [
    { type: "frame", text: "abc" },
    { type: "frame", text: "" },
  ]);
});

Deno.test("mllp decoder emits several frames from one read in order", () => {
  const wire = bytes(VT, "one", END, VT, "two", END, VT, "three", END);
  assert.deepEqual(run(new MllpDecoder(), [wire]), [
    { type: "frame", text: "one" },
    { type: "frame", text: "two" },
    { type: "frame", text: "three" },
  ]);
});

Deno.test("mllp decoder skips and counts garbage before start blocks", () => {
  const d = new MllpDecoder();
  const events = run(d, [bytes("GET / HTTP/1.1\r\n", VT, "a", END, "\r\n", VT, "b", END, "tail")]);
  assert.deepEqual(events, [
    { type: "skipped", bytes: 16 },
    { type: "frame", text: "a" },
    { type: "skipped", bytes: 2 },
    { type: "frame", text: "b" },
    { type: "skipped", bytes: 4 },
  ]);
  assert.equal(d.skippedBytes, 22);
});

Deno.test("mllp decoder reports a garbage run spanning reads once per read", () => {
  const d = new MllpDecoder();
  assert.deepEqual(run(d, [bytes("abc"), bytes("de", VT, "x", END)]), [
    { type: "skipped", bytes: 3 },
    { type: "skipped", bytes: 2 },
    { type: "frame", text: "x" },
  ]);
  assert.equal(d.skippedBytes, 5);
});

Deno.test("mllp decoder restarts on a start block inside an open frame", () => {
  const d = new MllpDecoder();
  // The partial frame "MSH|lost" (8 bytes) plus its start block is skipped.
  assert.deepEqual(run(d, [bytes(VT, "MSH|lo"), bytes("st", VT, "MSH|ok", END)]), [
    { type: "skipped", bytes: 9 },
    { type: "frame", text: "MSH|ok" },
  ]);
  assert.equal(d.skippedBytes, 9);
});

Deno.test("mllp decoder restart within a single read counts the abandoned start block", () => {
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT, VT, "a", END)]), [
    { type: "skipped", bytes: 1 },
    { type: "frame", text: "a" },
  ]);
});

Deno.test("mllp decoder emits empty frames", () => {
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT, END)]), [{ type: "frame", text: "" }]);
});

Deno.test("mllp decoder reports a truncated frame at end of input", () => {
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT, "MSH|par"), bytes("tial")]), [
    { type: "truncated", bytes: 11 },
  ]);
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT)]), [{ type: "truncated", bytes: 0 }]);
});

Deno.test("mllp decoder end() resets so the decoder can be reused", () => {
  const d = new MllpDecoder();
  d.push(bytes(VT, "abc"));
  d.end();
  assert.equal(d.inFrame, false);
  assert.equal(d.bufferedBytes, 0);
  assert.deepEqual(run(d, [bytes(VT, "x", END)]), [{ type: "frame", text: "x" }]);
});

Deno.test("mllp decoder strict mode treats FS without CR as payload", () => {
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT, "a", [0x1c], "b", END)]), [
    { type: "frame", text: "a\x1cb" },
  ]);
});

Deno.test("mllp decoder strict mode waits for the CR when FS ends a read", () => {
  const d = new MllpDecoder();
  assert.deepEqual(d.push(bytes(VT, "abc", [0x1c])), []);
  assert.equal(d.inFrame, true);
  const events = d.push(bytes([0x0d], VT, "n", END));
  assert.deepEqual(events.map((e) => e.type === "frame" ? td.decode(e.payload) : e), ["abc", "n"]);
});

Deno.test("mllp decoder strict mode keeps a read-final FS as payload when no CR follows", () => {
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT, "a", [0x1c]), bytes("b", END)]), [
    { type: "frame", text: "a\x1cb" },
  ]);
  // A start block right after the held FS restarts; the FS counts as skipped payload.
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT, "a", [0x1c]), bytes(VT, "b", END)]), [
    { type: "skipped", bytes: 3 },
    { type: "frame", text: "b" },
  ]);
  // Input ends with the FS held: truncated, the FS counted.
  assert.deepEqual(run(new MllpDecoder(), [bytes(VT, "a", [0x1c])]), [
    { type: "truncated", bytes: 2 },
  ]);
});

Deno.test("mllp decoder tolerant mode ends a frame at FS without CR", () => {
  const d = new MllpDecoder({ requireFinalCr: false });
  assert.deepEqual(run(d, [bytes(VT, "a", [0x1c], "zz", VT, "b", [0x1c], VT, "c", END)]), [
    { type: "frame", text: "a" },
    { type: "skipped", bytes: 2 },
    { type: "frame", text: "b" },
    { type: "frame", text: "c" },
  ]);
});

Deno.test("mllp decoder tolerant mode emits at a read-final FS and swallows a late CR", () => {
  const d = new MllpDecoder({ requireFinalCr: false });
  const first = d.push(bytes(VT, "abc", [0x1c]));
  assert.equal(first.length, 1);
  assert.equal(first[0]?.type, "frame");
  assert.deepEqual(d.push(bytes([0x0d])), []);
  assert.equal(d.skippedBytes, 0);
  // A second CR is not part of the end block any more.
  assert.deepEqual(d.push(bytes([0x0d])), [{ type: "skipped", bytes: 1 }]);
});

Deno.test("mllp decoder tolerant mode after a read-final FS starts the next frame at once", () => {
  const d = new MllpDecoder({ requireFinalCr: false });
  assert.deepEqual(run(d, [bytes(VT, "a", [0x1c]), bytes(VT, "b", END)]), [
    { type: "frame", text: "a" },
    { type: "frame", text: "b" },
  ]);
});

Deno.test("mllp decoder reports oversize when the limit is crossed, before the end block", () => {
  const d = new MllpDecoder({ maxFrameBytes: 10 });
  assert.deepEqual(d.push(bytes(VT, "12345678")), []);
  assert.equal(d.bufferedBytes, 8);
  assert.deepEqual(d.push(bytes("9012")), [{ type: "oversize", size: 12, limit: 10 }]);
  assert.equal(d.bufferedBytes, 0);
  // The rest of that frame is dropped without buffering, then decoding resumes.
  assert.deepEqual(d.push(new Uint8Array(1000).fill(0x41)), []);
  assert.equal(d.bufferedBytes, 0);
  const events = d.push(bytes("more", END, "g", VT, "ok", END));
  assert.deepEqual(events.map((e) => e.type === "frame" ? td.decode(e.payload) : e), [
    { type: "skipped", bytes: 1 },
    "ok",
  ]);
  assert.deepEqual(d.end(), []);
});

Deno.test("mllp decoder accepts a frame of exactly maxFrameBytes", () => {
  assert.deepEqual(run(new MllpDecoder({ maxFrameBytes: 3 }), [bytes(VT, "abc", END)]), [
    { type: "frame", text: "abc" },
  ]);
  assert.deepEqual(run(new MllpDecoder({ maxFrameBytes: 3 }), [bytes(VT, "abcd", END)]), [
    { type: "oversize", size: 4, limit: 3 },
  ]);
});

Deno.test("mllp decoder restarts cleanly on a start block inside an oversize frame", () => {
  const d = new MllpDecoder({ maxFrameBytes: 4 });
  assert.deepEqual(run(d, [bytes(VT, "toolong", VT, "ok", END)]), [
    { type: "oversize", size: 7, limit: 4 },
    { type: "frame", text: "ok" },
  ]);
  assert.equal(d.skippedBytes, 0);
});

Deno.test("mllp decoder uses a 30 MiB default limit", () => {
  const d = new MllpDecoder();
  const big = new Uint8Array(31457280).fill(0x41);
  assert.deepEqual(d.push(Uint8Array.of(0x0b)), []);
  assert.deepEqual(d.push(big), []);
  assert.deepEqual(d.push(Uint8Array.of(0x41)), [
    { type: "oversize", size: 31457281, limit: 31457280 },
  ]);
});

Deno.test("mllp decoder rejects an invalid maxFrameBytes", () => {
  assert.throws(() => new MllpDecoder({ maxFrameBytes: -1 }), RangeError);
  assert.throws(() => new MllpDecoder({ maxFrameBytes: 1.5 }), RangeError);
  assert.throws(() => new MllpDecoder({ maxFrameBytes: Number.NaN }), RangeError);
});

Deno.test("mllp decoder assembles a large frame from 64 KiB reads", () => {
  const payload = new Uint8Array(5 * 1024 * 1024 + 7);
  for (let i = 0; i < payload.length; i++) payload[i] = 0x20 + (i % 90);
  const wire = encodeMllp(payload);
  const d = new MllpDecoder();
  const events: MllpEvent[] = [];
  for (let at = 0; at < wire.length; at += 65536) {
    events.push(...d.push(wire.subarray(at, at + 65536)));
  }
  assert.equal(events.length, 1);
  const first = events[0];
  assert.ok(first?.type === "frame");
  assert.deepEqual(first.payload, payload);
});

Deno.test("mllp decoder finds delimiters in reads at every byte alignment", () => {
  // Views at odd offsets exercise the word-at-a-time scan's unaligned head and tail.
  for (let offset = 0; offset < 4; offset++) {
    for (let at = 60; at < 140; at++) {
      const payload = new Uint8Array(200).fill(0x41);
      const wire = encodeMllp(payload.subarray(0, at));
      const backing = new Uint8Array(wire.length + offset);
      backing.set(wire, offset);
      const events = new MllpDecoder().push(backing.subarray(offset));
      assert.equal(events.length, 1);
      const e = events[0];
      assert.ok(e?.type === "frame");
      assert.equal(e.payload.length, at, `offset ${offset} length ${at}`);
    }
  }
});

Deno.test("mllp decoder payloads do not alias the pushed read", () => {
  const wire = encodeMllp("abc");
  const events = new MllpDecoder().push(wire);
  wire.fill(0x5a);
  const e = events[0];
  assert.ok(e?.type === "frame");
  assert.equal(td.decode(e.payload), "abc");
});

Deno.test("mllp decoder ignores empty reads", () => {
  const d = new MllpDecoder();
  assert.deepEqual(d.push(new Uint8Array(0)), []);
  d.push(bytes(VT, "a", [0x1c]));
  assert.deepEqual(d.push(new Uint8Array(0)), []);
  assert.deepEqual(d.push(bytes([0x0d])).length, 1);
});

/**
 * Tracks how far V8 heap plus array buffer memory rises above its lowest reading: garbage
 * from earlier tests may be collected meanwhile, so a fixed starting point would hide growth.
 */
function memoryRise(): { sample(): void; readonly max: number } {
  const inUse = () => Deno.memoryUsage().heapUsed + Deno.memoryUsage().external;
  let low = inUse();
  let max = 0;
  return {
    sample() {
      const now = inUse();
      low = Math.min(low, now);
      max = Math.max(max, now - low);
    },
    get max() {
      return max;
    },
  };
}

Deno.test("mllp decoder memory stays near the payload size when a frame arrives in 1-byte reads", () => {
  // A peer can trickle a frame under the limit a byte per read; holding one view per read
  // would cost ~200 bytes each (1 MiB of payload: ~200 MiB; 30 MiB: gigabytes).
  const size = 1024 * 1024;
  const d = new MllpDecoder();
  d.push(Uint8Array.of(0x0b));
  const rise = memoryRise();
  for (let i = 0; i < size; i++) {
    d.push(Uint8Array.of(0x20 + (i % 90)));
    if ((i & 0xffff) === 0) rise.sample();
  }
  rise.sample();
  assert.equal(d.bufferedBytes, size);
  const mib = (rise.max / 2 ** 20).toFixed(1);
  assert.ok(rise.max < 16 * size, `${mib} MiB held for 1 MiB of payload`);
  const events = d.push(Uint8Array.of(0x1c, 0x0d));
  const e = events[0];
  assert.ok(events.length === 1 && e?.type === "frame");
  assert.equal(e.payload.length, size);
  for (let i = 0; i < size; i++) {
    if (e.payload[i] !== 0x20 + (i % 90)) assert.fail(`payload byte ${i} is ${e.payload[i]}`);
  }
});

Deno.test("mllp decoder memory stays bounded while 100 MiB of an oversize frame streams in", () => {
  // 64-byte reads in fresh buffers, as a socket transport makes them.
  const limit = 1024 * 1024;
  const d = new MllpDecoder({ maxFrameBytes: limit });
  d.push(Uint8Array.of(0x0b));
  const rise = memoryRise();
  const read = new Uint8Array(64).fill(0x41);
  const reads = (100 * 1024 * 1024) / read.length;
  const events: MllpEvent[] = [];
  for (let i = 0; i < reads; i++) {
    events.push(...d.push(read.slice()));
    if ((i & 0xfff) === 0) rise.sample();
    if (d.bufferedBytes > limit) assert.fail(`${d.bufferedBytes} bytes buffered`);
  }
  assert.deepEqual(events, [{ type: "oversize", size: limit + 64, limit }]);
  assert.equal(d.bufferedBytes, 0);
  // Holding the excess would take 100 MiB or more; the collector's slack is far below that.
  assert.ok(rise.max < 32 * limit, `${(rise.max / 2 ** 20).toFixed(1)} MiB in use`);
  // The excess was counted, not kept: the frame's end block is found and decoding resumes.
  assert.deepEqual(run(d, [bytes("tail", END, VT, "next", END)]), [
    { type: "frame", text: "next" },
  ]);
});

Deno.test("mllp decoder emits 100k tiny frames from one read in order", () => {
  // Payload lengths 0-6 put the delimiters at every word alignment of the scan.
  const count = 100_000;
  const wire: number[] = [];
  for (let i = 0; i < count; i++) {
    wire.push(0x0b);
    for (let j = 0; j < i % 7; j++) wire.push(0x30 + ((i + j) % 10));
    wire.push(0x1c, 0x0d);
  }
  const d = new MllpDecoder();
  const events = d.push(Uint8Array.from(wire));
  assert.equal(events.length, count);
  for (let i = 0; i < count; i++) {
    const e = events[i];
    const expected = Array.from({ length: i % 7 }, (_, j) => 0x30 + ((i + j) % 10));
    if (e?.type !== "frame" || e.payload.join() !== expected.join()) {
      assert.fail(`frame ${i}: ${JSON.stringify(e)}`);
    }
  }
  assert.deepEqual(d.end(), []);
  assert.equal(d.skippedBytes, 0);
});
