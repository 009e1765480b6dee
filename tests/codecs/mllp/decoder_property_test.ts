import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeMllp, MllpDecoder, type MllpEvent } from "../../../codecs/mllp/mod.ts";

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

/** Byte arrays without the start and end block bytes, i.e. valid MLLP payloads. */
const payloadArb = fc.uint8Array({ maxLength: 300 }).map((a) =>
  a.map((b) => (b === VT || b === FS ? 0x41 : b))
);
/** Garbage between frames: anything but a start block. */
const garbageArb = fc.uint8Array({ maxLength: 20 }).map((a) => a.map((b) => (b === VT ? 0 : b)));

/**
 * Splits `wire` at the given (unsorted, possibly repeated) cut points into views that each
 * start at a random byte offset of their own buffer, to exercise unaligned scanning.
 */
function split(wire: Uint8Array, cuts: number[], offsets: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, wire.length]) {
    const offset = offsets[chunks.length % Math.max(offsets.length, 1)] ?? 0;
    const backing = new Uint8Array(p - prev + offset);
    backing.set(wire.subarray(prev, p), offset);
    chunks.push(backing.subarray(offset));
    prev = p;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function decodeAll(decoder: MllpDecoder, chunks: Uint8Array[]): MllpEvent[] {
  const events: MllpEvent[] = [];
  for (const c of chunks) events.push(...decoder.push(c));
  events.push(...decoder.end());
  return events;
}

const cutsArb = fc.array(fc.nat(), { maxLength: 40 });
const offsetsArb = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 });

Deno.test("mllp decoder returns exactly the frames and skipped count under random chunking", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(garbageArb, payloadArb), { maxLength: 12 }),
      garbageArb,
      cutsArb,
      offsetsArb,
      (items, trailing, cuts, offsets) => {
        const wire = concat([...items.flatMap(([g, p]) => [g, encodeMllp(p)]), trailing]);
        const decoder = new MllpDecoder();
        const events = decodeAll(decoder, split(wire, cuts, offsets));
        const frames = events.flatMap((e) => (e.type === "frame" ? [e.payload] : []));
        assert.deepEqual(frames, items.map(([, p]) => p));
        const skipped = items.reduce((n, [g]) => n + g.length, trailing.length);
        assert.equal(decoder.skippedBytes, skipped);
        const reported = events.reduce((n, e) => n + (e.type === "skipped" ? e.bytes : 0), 0);
        assert.equal(reported, skipped);
        assert.equal(
          events.length,
          frames.length + events.filter((e) => e.type === "skipped").length,
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("mllp encode then decode is the identity for any payload sequence", () => {
  fc.assert(
    fc.property(fc.array(payloadArb, { maxLength: 10 }), cutsArb, (payloads, cuts) => {
      const wire = concat(payloads.map((p) => encodeMllp(p)));
      const events = decodeAll(new MllpDecoder(), split(wire, cuts, [0]));
      assert.deepEqual(events, payloads.map((payload) => ({ type: "frame", payload })));
    }),
    { numRuns: 500 },
  );
});

/** Per-byte reference decoder with the documented semantics, for arbitrary input bytes. */
function model(wire: Uint8Array, limit: number, requireFinalCr: boolean) {
  const frames: Uint8Array[] = [];
  let skipped = 0;
  let oversize = 0;
  let truncated: number | undefined;
  let state: "out" | "in" | "drop" = "out";
  let buf: number[] = [];
  let size = 0;
  let heldFs = 0;
  const add = (b: number) => {
    size++;
    if (state === "in") {
      if (size > limit) {
        oversize++;
        state = "drop";
        buf = [];
      } else buf.push(b);
    }
  };
  const finish = () => {
    if (state === "in") frames.push(Uint8Array.from(buf));
    state = "out";
  };
  for (let i = 0; i < wire.length; i++) {
    const b = wire[i]!;
    if (state === "out") {
      if (b === VT) {
        state = "in";
        buf = [];
        size = 0;
      } else skipped++;
    } else if (b === VT) {
      if (state === "in") skipped += 1 + size;
      state = "in";
      buf = [];
      size = 0;
    } else if (b === FS) {
      const next = wire[i + 1];
      if (next === CR) {
        finish();
        i++;
      } else if (!requireFinalCr) finish();
      else if (next === undefined) {
        heldFs = 1; // input ended before showing whether a CR follows
      } else add(b);
    } else add(b);
  }
  if (state === "in") truncated = size + heldFs;
  return { frames, skipped, oversize, truncated };
}

Deno.test("mllp decoder matches a per-byte reference model on arbitrary bytes", () => {
  // Bytes biased towards the control characters so every state transition is hit often.
  const byteArb = fc.oneof(
    fc.constantFrom(VT, FS, CR, 0x41),
    fc.integer({ min: 0, max: 255 }),
  );
  fc.assert(
    fc.property(
      fc.array(byteArb, { maxLength: 300 }).map((a) => Uint8Array.from(a)),
      fc.integer({ min: 0, max: 40 }),
      fc.boolean(),
      cutsArb,
      offsetsArb,
      (wire, limit, requireFinalCr, cuts, offsets) => {
        const decoder = new MllpDecoder({ maxFrameBytes: limit, requireFinalCr });
        const events = decodeAll(decoder, split(wire, cuts, offsets));
        const expected = model(wire, limit, requireFinalCr);
        assert.deepEqual(
          events.flatMap((e) => (e.type === "frame" ? [e.payload] : [])),
          expected.frames,
        );
        assert.equal(decoder.skippedBytes, expected.skipped);
        const over = events.filter((e) => e.type === "oversize");
        assert.equal(over.length, expected.oversize);
        for (const e of over) assert.ok(e.size > limit && e.limit === limit);
        const trunc = events.filter((e) => e.type === "truncated");
        assert.deepEqual(
          trunc.map((e) => e.bytes),
          expected.truncated === undefined ? [] : [
            expected.truncated,
          ],
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("mllp decoder never buffers more than maxFrameBytes under random limits", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2000 }),
      fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 10 }),
      (limit, sizes, chunkSizes) => {
        const payloads = sizes.map((n) => new Uint8Array(n).fill(0x41));
        const wire = concat(payloads.map((p) => encodeMllp(p)));
        const decoder = new MllpDecoder({ maxFrameBytes: limit });
        const events: MllpEvent[] = [];
        let at = 0;
        for (let k = 0; at < wire.length; k++) {
          const size = chunkSizes[k % chunkSizes.length]!;
          events.push(...decoder.push(wire.subarray(at, at + size)));
          at += size;
          assert.ok(decoder.bufferedBytes <= limit, `${decoder.bufferedBytes} > ${limit}`);
        }
        events.push(...decoder.end());
        assert.deepEqual(
          events.map((e) => e.type === "frame" ? e.payload.length : e.type),
          sizes.map((n) => (n > limit ? "oversize" : n)),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("mllp decoder reassembles frames byte-exactly from any mix of short and long reads", () => {
  // Frames up to 40 KiB, reads from 1 byte to 70 KiB (sizes around 4 KiB and 16 KiB are
  // favoured): exercises holding long runs as views and copying short ones into blocks.
  // Drawn as (size, seed) and built in the property, so a counterexample prints short.
  const bigPayloadArb = fc.tuple(fc.integer({ min: 0, max: 40_000 }), fc.nat(0xffff));
  const build = ([n, seed]: [number, number]): Uint8Array => {
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const b = (seed + i * 31 + (i >> 8)) & 0xff;
      p[i] = b === VT || b === FS ? 0x41 : b;
    }
    return p;
  };
  const readSizeArb = fc.oneof(
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 4090, max: 4100 }),
    fc.integer({ min: 16_380, max: 16_390 }),
    fc.integer({ min: 1, max: 70_000 }),
  );
  fc.assert(
    fc.property(
      fc.array(bigPayloadArb, { minLength: 1, maxLength: 4 }),
      fc.array(readSizeArb, { minLength: 1, maxLength: 30 }),
      (specs, readSizes) => {
        const payloads = specs.map(build);
        const wire = concat(payloads.map((p) => encodeMllp(p)));
        const decoder = new MllpDecoder();
        const events: MllpEvent[] = [];
        for (let at = 0, k = 0; at < wire.length; k++) {
          const n = readSizes[k % readSizes.length]!;
          events.push(...decoder.push(wire.slice(at, at + n)));
          at += n;
        }
        events.push(...decoder.end());
        // Compared by hand: a deep-equal diff of 40 KiB arrays would make shrinking crawl.
        assert.deepEqual(events.map((e) => e.type), payloads.map(() => "frame"));
        payloads.forEach((payload, k) => {
          const e = events[k];
          assert.ok(e?.type === "frame");
          assert.equal(e.payload.length, payload.length, `frame ${k} length`);
          const at = payload.findIndex((b, i) => e.payload[i] !== b);
          assert.equal(at, -1, `frame ${k} differs at byte ${at}`);
        });
      },
    ),
    { numRuns: 200 },
  );
});
