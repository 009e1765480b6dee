/**
 * MLLP decode throughput: our `MllpDecoder.push` next to a naive baseline, in one run.
 *
 * Run: `deno run -A bench/mllp_decode.ts` (bounded to a few seconds).
 *
 * Baseline: the approach most Node MLLP libraries take, modelled on `@medplum/hl7`'s
 * connection: on every read, `Buffer.concat` the leftover with the new chunk and search it
 * from the start for the end block. (Medplum scans with per-byte loops; the baseline uses
 * `indexOf`, so it is the faster variant of that design.) Its cost grows quadratically with
 * frame size because every read re-copies and re-scans everything buffered so far.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { encodeMllp, MllpDecoder } from "../codecs/mllp/mod.ts";
import {
  measure,
  median,
  printJson,
  printLine,
  printTable,
  rounds,
  type Sample,
} from "./harness.ts";

const CHUNK = 64 * 1024;

interface Scenario {
  name: string;
  chunks: Uint8Array[];
  wireBytes: number;
  frames: number;
}

function splitInto(wire: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += size) chunks.push(wire.slice(at, at + size));
  return chunks;
}

function payloadOf(size: number, seed: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = 0x20 + ((i * 7 + seed) % 90);
  return p;
}

function smallFrames(): Scenario {
  const count = 1000;
  const frames = Array.from({ length: count }, (_, i) => encodeMllp(payloadOf(1024, i)));
  const wire = Buffer.concat(frames);
  return {
    name: "1000 x 1 KiB frames",
    chunks: splitInto(wire, CHUNK),
    wireBytes: wire.length,
    frames: count,
  };
}

function bigFrame(): Scenario {
  const wire = encodeMllp(payloadOf(30 * 1024 * 1024, 1));
  return {
    name: "1 x 30 MiB frame",
    chunks: splitInto(wire, CHUNK),
    wireBytes: wire.length,
    frames: 1,
  };
}

/** Ours: returns the number of frames decoded. */
function decodeOurs(chunks: Uint8Array[]): number {
  const decoder = new MllpDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  let frames = 0;
  for (const chunk of chunks) {
    for (const event of decoder.push(chunk)) if (event.type === "frame") frames++;
  }
  return frames;
}

/** Baseline: Buffer.concat per read, indexOf from the start of the buffer each time. */
function decodeBaseline(chunks: Uint8Array[]): number {
  let buffered = Buffer.alloc(0);
  let frames = 0;
  for (const chunk of chunks) {
    buffered = Buffer.concat([buffered, chunk]);
    let pos = 0;
    while (pos < buffered.length) {
      const start = buffered.indexOf(0x0b, pos);
      if (start === -1) break;
      const end = buffered.indexOf(0x1c, start + 1);
      if (end === -1 || end + 1 >= buffered.length) break;
      if (buffered[end + 1] !== 0x0d) {
        pos = end + 1;
        continue;
      }
      // Copy out the payload as a decoder must (the library decodes it to a string).
      const payload = Buffer.from(buffered.subarray(start + 1, end));
      if (payload.length >= 0) frames++;
      pos = end + 2;
    }
    buffered = pos < buffered.length ? buffered.subarray(pos) : Buffer.alloc(0);
  }
  return frames;
}

/** Wraps a decoder as a harness unit of work that checks its frame count. */
function unit(scenario: Scenario, impl: string, decode: (c: Uint8Array[]) => number) {
  return {
    name: impl,
    fn: (): number => {
      const frames = decode(scenario.chunks);
      if (frames !== scenario.frames) {
        throw new Error(`${impl} decoded ${frames} frames, expected ${scenario.frames}`);
      }
      return frames;
    },
  };
}

interface Figures {
  framesPerS: number;
  mbPerS: number;
}

function figures(scenario: Scenario, samples: readonly Sample[]): Figures {
  const framesPerS = median(samples.map((s) => s.perSecond));
  return { framesPerS, mbPerS: (framesPerS * scenario.wireBytes) / scenario.frames / 1e6 };
}

const small = smallFrames();
const big = bigFrame();

// Small frames: both contenders alternate over rounds of >= 150 ms each.
const smallRuns = rounds({
  contenders: [
    { ...unit(small, "ours", decodeOurs), minMs: 150 },
    { ...unit(small, "baseline", decodeBaseline), minMs: 150 },
  ],
  rounds: 7,
});
const smallOurs = figures(small, smallRuns.get("ours") ?? []);
const smallBase = figures(small, smallRuns.get("baseline") ?? []);

// 30 MiB frame: ours over several samples; the quadratic baseline takes seconds per decode,
// so it gets a single one (the small-frame rounds already warmed it up).
const bigOurs = figures(
  big,
  rounds({ contenders: [{ ...unit(big, "ours", decodeOurs), minMs: 200 }], rounds: 5 })
    .get("ours") ?? [],
);
const bigBase = figures(big, [measure({ ...unit(big, "baseline", decodeBaseline), minMs: 0 })]);

printLine(`MLLP decode, ${CHUNK / 1024} KiB reads (median of samples; MB = 10^6 wire bytes)`);
const row = (scenario: Scenario, impl: string, f: Figures) => [
  scenario.name,
  impl,
  Math.round(f.mbPerS),
  Math.round(f.framesPerS),
];
printTable(["scenario", "impl", "MB/s", "frames/s"], [
  row(small, "ours", smallOurs),
  row(small, "baseline (concat+indexOf)", smallBase),
  row(big, "ours", bigOurs),
  row(big, "baseline (concat+indexOf)", bigBase),
]);
const smallRatio = smallOurs.mbPerS / smallBase.mbPerS;
const bigRatio = bigOurs.mbPerS / bigBase.mbPerS;
printLine(
  `speed-up vs baseline: small frames ${smallRatio.toFixed(2)}x, 30 MiB frame ${
    bigRatio.toFixed(1)
  }x`,
);
printJson({
  bench: "mllp_decode",
  chunkBytes: CHUNK,
  small: {
    frames: small.frames,
    frameBytes: 1024,
    oursMBps: Math.round(smallOurs.mbPerS),
    oursFramesPerS: Math.round(smallOurs.framesPerS),
    baselineMBps: Math.round(smallBase.mbPerS),
    baselineFramesPerS: Math.round(smallBase.framesPerS),
    ratio: Number(smallRatio.toFixed(3)),
  },
  large: {
    frameBytes: 30 * 1024 * 1024,
    oursMBps: Math.round(bigOurs.mbPerS),
    baselineMBps: Math.round(bigBase.mbPerS * 10) / 10,
    ratio: Number(bigRatio.toFixed(1)),
  },
});
