import { MLLP_END, MLLP_START } from "./constants.ts";

// Below this many bytes a word view is not worth allocating.
const MIN_WORD_SCAN = 64;
const ONES = 0x01010101;
const HIGHS = 0x80808080;
const START_X4 = 0x0b0b0b0b;
const END_X4 = 0x1c1c1c1c;

/** A 4-byte-aligned `Uint32Array` view over most of a chunk, built once per chunk. */
export interface WordView {
  /** Aligned words of the chunk. */
  words: Uint32Array;
  /** Index in the chunk of the first byte of `words[0]`. */
  base: number;
}

/** Builds the word view used by {@link findStartOrEnd}, or `null` for short chunks. */
export function wordViewOf(chunk: Uint8Array): WordView | null {
  if (chunk.length < MIN_WORD_SCAN) return null;
  const base = (4 - (chunk.byteOffset & 3)) & 3;
  const count = (chunk.length - base) >>> 2;
  return { words: new Uint32Array(chunk.buffer, chunk.byteOffset + base, count), base };
}

/**
 * Index of the first start block (0x0B) or end block (0x1C) byte at or after `from`, or -1.
 *
 * Inside a frame both bytes matter (end of frame, or a restart). Two `indexOf` passes would
 * read the data twice; this SWAR scan tests four bytes per step for either value, which runs
 * at about the speed of a single native `indexOf`.
 */
export function findStartOrEnd(chunk: Uint8Array, from: number, view: WordView | null): number {
  const len = chunk.length;
  let i = from;
  if (view !== null) {
    const { words, base } = view;
    const wordsEnd = base + words.length * 4;
    if (i < wordsEnd) {
      // Bytes before the first whole word at or after `from`.
      const firstWord = i <= base ? 0 : (i - base + 3) >>> 2;
      const aligned = base + firstWord * 4;
      for (; i < aligned; i++) {
        const c = chunk[i];
        if (c === MLLP_START || c === MLLP_END) return i;
      }
      for (let w = firstWord; w < words.length; w++) {
        const x = words[w]!;
        const a = x ^ START_X4;
        const b = x ^ END_X4;
        // Classic "has a zero byte" test; exact as a yes/no answer for the whole word.
        if ((((a - ONES) & ~a) | ((b - ONES) & ~b)) & HIGHS) {
          const at = base + w * 4;
          for (let j = at; j < at + 4; j++) {
            const c = chunk[j];
            if (c === MLLP_START || c === MLLP_END) return j;
          }
        }
      }
      i = wordsEnd;
    }
  }
  for (; i < len; i++) {
    const c = chunk[i];
    if (c === MLLP_START || c === MLLP_END) return i;
  }
  return -1;
}
