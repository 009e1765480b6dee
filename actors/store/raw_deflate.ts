/**
 * Raw deflate of small payloads with zlib streams kept between calls. `deflateRawSync` builds a
 * zlib stream (and its state) for every call and frees it after; at intake rates that setup was
 * a third of the deflate's cost on the main thread. Here one stream per window size is reset
 * after each payload instead; the output is byte for byte that of `deflateRawSync` with the same
 * options (a test holds it to that).
 *
 * Node's zlib has no public synchronous call on a stream it keeps, so this uses the stream's
 * binding (`_handle.writeSync`, `_handle.reset`, `_writeState`), as `deflateRawSync` does inside.
 * Where a runtime lacks it, or it fails, the payload goes through `deflateRawSync` instead.
 * @module
 */

import { constants, createDeflateRaw, deflateRawSync } from "node:zlib";

/** The settings of one raw deflate. */
export interface RawDeflateOptions {
  level: number;
  windowBits: number;
  memLevel: number;
}

/** The parts of a zlib stream's binding used here (Node's and Deno's `node:zlib`). */
interface ZlibBinding {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
}

interface KeptStream {
  binding: ZlibBinding;
  /** `[avail_out, avail_in]` after the last `writeSync`, written by the binding. */
  state: Uint32Array;
}

/** Streams kept by their settings; undefined once a runtime is seen to lack the binding. */
let kept: Map<string, KeptStream> | undefined = new Map();
/** Output room for one payload, grown as needed. */
let scratch = new Uint8Array(64 * 1024);

/**
 * `deflateRawSync(input, options)`, or undefined when the output would not be smaller than
 * `input` (there is no point storing it deflated).
 *
 * @example
 * ```ts
 * const packed = deflateSmaller(bytes, { level: 3, windowBits: 11, memLevel: 6 });
 * const stored = packed ?? bytes;
 * ```
 */
export function deflateSmaller(
  input: Uint8Array,
  options: RawDeflateOptions,
): Uint8Array | undefined {
  const stream = keptStream(options);
  if (stream) {
    const out = input.length <= scratch.length ? scratch : (scratch = new Uint8Array(input.length));
    try {
      // Room for input.length bytes only: output that does not fit is not smaller anyway.
      stream.binding.writeSync(constants.Z_FINISH, input, 0, input.length, out, 0, input.length);
      const [availOut, availIn] = stream.state;
      stream.binding.reset();
      if (availOut === undefined || availIn === undefined) throw new Error("no write state");
      // Whole input read and output short of the room: the stream ended within it.
      if (availIn === 0 && availOut > 0) return out.slice(0, input.length - availOut);
      return undefined;
    } catch {
      kept?.delete(key(options)); // a stream in an unknown state is not used again
    }
  }
  const packed = deflateRawSync(input, options);
  return packed.length < input.length ? new Uint8Array(packed) : undefined;
}

/** True while payloads are deflated by kept streams (false: by `deflateRawSync` each time). */
export function keepsStreams(): boolean {
  return kept !== undefined;
}

function key(o: RawDeflateOptions): string {
  return `${o.level}:${o.windowBits}:${o.memLevel}`;
}

function keptStream(options: RawDeflateOptions): KeptStream | undefined {
  if (!kept) return undefined;
  const k = key(options);
  const found = kept.get(k);
  if (found) return found;
  const stream = createDeflateRaw(options) as unknown as {
    _handle?: Partial<ZlibBinding>;
    _writeState?: unknown;
    on(event: "error", f: () => void): void;
  };
  // The binding reports a failure by an 'error' event as well: never an unhandled one.
  stream.on("error", () => kept?.delete(k));
  const binding = stream._handle;
  const state = stream._writeState;
  if (
    typeof binding?.writeSync !== "function" || typeof binding.reset !== "function" ||
    !(state instanceof Uint32Array)
  ) {
    kept = undefined;
    return undefined;
  }
  const made: KeptStream = { binding: binding as ZlibBinding, state };
  kept.set(k, made);
  return made;
}
