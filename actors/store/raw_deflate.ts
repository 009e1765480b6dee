/**
 * Raw deflate and inflate of small payloads with zlib streams kept between calls.
 * `deflateRawSync` and `inflateRawSync` build a zlib stream (and its state) for every call and
 * free it after; at intake rates that setup was a third of the deflate's cost on the main thread.
 * Here one stream per setting is reset after each payload instead; the bytes are those of
 * `deflateRawSync` and `inflateRawSync` (tests hold them to that).
 *
 * Node's zlib has no public synchronous call on a stream it keeps, so this uses the stream's
 * binding (`_handle.writeSync`, `_handle.reset`, `_writeState`), as the `…Sync` functions do
 * inside. The binding's error callback is replaced, so a failure is seen at once and the stream is
 * never destroyed under it; whatever fails, or where a runtime lacks the binding, the payload goes
 * through `deflateRawSync` or `inflateRawSync`, whose answer (or error) is the one returned.
 *
 * A payload may also be deflated after a dictionary ({@link deflateWithDictionary}): an earlier
 * message of the same kind, whose text the payload's matches may point back into. `node:zlib`'s
 * `dictionary` option is ignored by Deno, so the dictionary is written into the stream first, at
 * level 0, and flushed (`Z_SYNC_FLUSH`: byte-aligned, the window kept); the level is then set back
 * (zlib's `deflateParams`), which hashes the dictionary's strings as `deflateSetDictionary` would,
 * and only what follows is stored. (Written at the payload's level instead, the dictionary was
 * compressed for nothing: 60 % of the call.) To read it back, the dictionary goes in front as a
 * stored (uncompressed) deflate block, which any inflater decodes into the same window, whatever
 * zlib wrote the payload.
 * @module
 */

import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  inflateRawSync,
} from "node:zlib";

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
  /** zlib's `deflateParams`: the level (and strategy) of what is written next. */
  params?(level: number, strategy: number): void;
  onerror: (message: string, errno: number) => void;
}

interface KeptStream {
  /** Its settings, its key in {@link kept}. */
  key: string;
  binding: ZlibBinding;
  /** `[avail_out, avail_in]` after the last `writeSync`, written by the binding. */
  state: Uint32Array;
  /** Set by the binding's error callback during a write. */
  failed: boolean;
}

/** Streams kept by their settings; undefined once a runtime is seen to lack the binding. */
let kept: Map<string, KeptStream> | undefined = new Map();
/** Output room for one payload, grown as needed (every call copies its result out). */
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
  if (input.length === 0) return undefined;
  const k = `d:${options.level}:${options.windowBits}:${options.memLevel}`;
  const stream = keptStream(k, () => createDeflateRaw(options));
  // Room for input.length bytes only: output that does not fit is not smaller anyway.
  const done = stream && write(stream, input, input.length);
  if (done) {
    // Whole input read and output short of the room: the stream ended within it.
    if (done.availIn === 0 && done.produced < input.length) return done.out.slice(0, done.produced);
    if (done.produced === input.length) return undefined;
  }
  const packed = deflateRawSync(input, options);
  return packed.length < input.length ? new Uint8Array(packed) : undefined;
}

/**
 * `inflateRawSync(stored)` for a payload known to inflate to `size` bytes. When it does not (a
 * damaged row), `inflateRawSync`'s own result or error is what comes back, for the caller's
 * checks to name.
 */
export function inflateExact(
  stored: Uint8Array,
  size: number,
  dictionary?: Uint8Array,
): Uint8Array {
  return dictionary
    ? inflateAfter(withStoredBlock(dictionary, stored), dictionary.length, size)
    : inflateAfter(stored, 0, size);
}

/**
 * The `size` bytes that follow the first `skip` of what `stored` inflates to, copied out once
 * (with a dictionary in front, `skip` is its length); else `inflateRawSync`'s result after `skip`.
 */
function inflateAfter(stored: Uint8Array, skip: number, size: number): Uint8Array {
  const stream = keptStream("i", () => createInflateRaw());
  // One byte more than expected: a payload that inflates longer does not pass unseen.
  const done = stream && write(stream, stored, skip + size + 1);
  if (done && done.availIn === 0 && done.produced === skip + size) {
    return done.out.slice(skip, skip + size);
  }
  const all = new Uint8Array(inflateRawSync(stored));
  return skip === 0 ? all : all.slice(skip);
}

/** Largest dictionary: one stored block, and room in zlib's 32 KiB window for the payload. */
export const MAX_DICTIONARY_BYTES = 8 * 1024;
/** Largest payload deflated after a dictionary (the window must reach over both). */
export const MAX_WITH_DICTIONARY = 32 * 1024 - 262 - MAX_DICTIONARY_BYTES;

/**
 * `input` raw-deflated after `dictionary` (level 1: with a dictionary that matches, smaller than
 * level 3 without one, in a third of the time), or undefined when that is not smaller than
 * `input`, or when either is over its limit ({@link MAX_DICTIONARY_BYTES},
 * {@link MAX_WITH_DICTIONARY}).
 * {@link inflateExact} with the same dictionary gives `input` back.
 *
 * @example
 * ```ts
 * const packed = deflateWithDictionary(bytes, earlier) ?? deflateSmaller(bytes, settings);
 * ```
 */
export function deflateWithDictionary(
  input: Uint8Array,
  dictionary: Uint8Array,
): Uint8Array | undefined {
  if (
    input.length === 0 || input.length > MAX_WITH_DICTIONARY ||
    dictionary.length > MAX_DICTIONARY_BYTES
  ) return undefined;
  // A stream of its own (its level changes between writes), never one deflateSmaller uses.
  const stream = keptStream(
    "dictionary:1:15:8",
    () => createDeflateRaw({ level: 1, windowBits: 15, memLevel: 8 }),
  );
  if (!stream?.binding.params) return undefined;
  // The dictionary's own output (itself, stored) is dropped: it only fills the window.
  const room = dictionary.length + 64;
  if (scratch.length < room) scratch = new Uint8Array(room);
  const primed = setLevel(stream, 0) && writeOnly(stream, constants.Z_SYNC_FLUSH, dictionary, room);
  const done = primed && primed.availIn === 0 && primed.produced < room &&
    setLevel(stream, 1) && writeOnly(stream, constants.Z_FINISH, input, input.length);
  if (!reset(stream) || !done) return undefined;
  // Whole input read and output short of the room: the stream ended within it.
  return done.availIn === 0 && done.produced < input.length
    ? done.out.slice(0, done.produced)
    : undefined;
}

/** `dictionary` as a stored deflate block (not the last), followed by `rest`. */
function withStoredBlock(dictionary: Uint8Array, rest: Uint8Array): Uint8Array {
  const n = dictionary.length; // at most MAX_DICTIONARY_BYTES: one block holds 65,535
  const out = new Uint8Array(5 + n + rest.length);
  // BFINAL 0, BTYPE 00 (stored), then LEN and its complement, little-endian.
  out[1] = n & 0xff;
  out[2] = n >>> 8;
  out[3] = ~n & 0xff;
  out[4] = (~n >>> 8) & 0xff;
  out.set(dictionary, 5);
  out.set(rest, 5 + n);
  return out;
}

/** True while payloads go through kept streams (false: a stream per call). */
export function keepsStreams(): boolean {
  return kept !== undefined;
}

/**
 * One `Z_FINISH` write of `input` into `room` bytes of the scratch buffer, the stream reset after.
 * Undefined when the binding reported an error or threw.
 */
function write(
  stream: KeptStream,
  input: Uint8Array,
  room: number,
): WriteResult | undefined {
  const done = writeOnly(stream, constants.Z_FINISH, input, room);
  return reset(stream) ? done : undefined;
}

interface WriteResult {
  out: Uint8Array;
  produced: number;
  availIn: number;
}

/** One write into `room` bytes of the scratch buffer, without a reset; undefined on an error. */
function writeOnly(
  stream: KeptStream,
  flush: number,
  input: Uint8Array,
  room: number,
): WriteResult | undefined {
  if (scratch.length < room) scratch = new Uint8Array(room);
  const out = scratch;
  stream.failed = false;
  try {
    stream.binding.writeSync(flush, input, 0, input.length, out, 0, room);
  } catch {
    stream.failed = true;
  }
  const [availOut = 0, availIn = 0] = stream.state;
  return stream.failed ? undefined : { out, produced: room - availOut, availIn };
}

/** Sets the level of what `stream` deflates next; false (and the stream dropped) on an error. */
function setLevel(stream: KeptStream, level: number): boolean {
  stream.failed = false;
  try {
    stream.binding.params!(level, constants.Z_DEFAULT_STRATEGY);
  } catch {
    stream.failed = true;
  }
  if (stream.failed) kept?.delete(stream.key); // its level is unknown: a new one next time
  return !stream.failed;
}

/** Resets `stream` for the next payload; false (and the stream dropped) when it cannot be. */
function reset(stream: KeptStream): boolean {
  try {
    stream.binding.reset();
    return true;
  } catch {
    kept?.delete(stream.key); // a stream that cannot be reset is not used again
    return false;
  }
}

function keptStream(k: string, create: () => unknown): KeptStream | undefined {
  if (!kept) return undefined;
  const found = kept.get(k);
  if (found) return found;
  const stream = create() as { _handle?: Partial<ZlibBinding>; _writeState?: unknown };
  const binding = stream._handle;
  const state = stream._writeState;
  if (
    typeof binding?.writeSync !== "function" || typeof binding.reset !== "function" ||
    !(state instanceof Uint32Array)
  ) {
    kept = undefined;
    return undefined;
  }
  const made: KeptStream = { key: k, binding: binding as ZlibBinding, state, failed: false };
  // Seen at once, instead of the stream's own handler destroying the stream on the next tick
  // (using a destroyed binding ends the process).
  made.binding.onerror = () => {
    made.failed = true;
  };
  kept.set(k, made);
  return made;
}
