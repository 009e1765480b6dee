import { DEFAULT_MAX_FRAME_BYTES, MLLP_CR, MLLP_END, MLLP_START } from "./constants.ts";
import type { MllpDecoderOptions, MllpEvent } from "./events.ts";
import { findStartOrEnd, type WordView, wordViewOf } from "./scan.ts";

// Stands in for an FS that turned out to be payload after the read it ended.
const FS_BYTE = Uint8Array.of(MLLP_END);

/**
 * Incremental MLLP decoder: feed reads with {@link MllpDecoder.push}, call
 * {@link MllpDecoder.end} when the input closes. Frames may be split across reads at any byte
 * and a read may hold any number of frames.
 *
 * Semantics:
 * - Bytes outside a frame are skipped until a start block (0x0B) and reported as `skipped`.
 * - A start block inside an open frame restarts framing: the sender evidently gave up on the
 *   partial frame, which is discarded and reported as `skipped` (its start block included) —
 *   or as `oversize`, if it had already grown past the limit.
 * - End block: FS CR; with `requireFinalCr: false` an FS alone also ends the frame (see
 *   {@link MllpDecoderOptions.requireFinalCr}). In strict mode an FS that is the last byte of
 *   a read is held until the next read shows whether a CR follows.
 * - A payload above `maxFrameBytes` yields one `oversize` event when the limit is crossed; the
 *   rest of the frame is counted and dropped until its end block, then decoding resumes.
 *
 * Ownership: payloads of multi-read frames are assembled from views of the pushed chunks,
 * copied once when the frame completes; so a chunk must not be modified after it is pushed
 * (as with any Web Stream chunk). Emitted payloads never alias a pushed chunk.
 */
export class MllpDecoder {
  readonly #maxFrameBytes: number;
  readonly #requireFinalCr: boolean;
  #inFrame = false;
  #discarding = false;
  #pendingFs = false;
  #swallowCr = false;
  #pieces: Uint8Array[] = [];
  #size = 0;
  #buffered = 0;
  #skipped = 0;

  /** Creates a decoder; throws `RangeError` if `maxFrameBytes` is not a non-negative integer. */
  constructor(options: MllpDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`maxFrameBytes must be a non-negative integer, got ${max}`);
    }
    this.#maxFrameBytes = max;
    this.#requireFinalCr = options.requireFinalCr ?? true;
  }

  /** Running total of bytes reported in `skipped` events since construction. */
  get skippedBytes(): number {
    return this.#skipped;
  }

  /**
   * Payload bytes currently held for the open frame; never above `maxFrameBytes`. (Held
   * pieces are views, so memory retained is this plus the unused ends of at most two reads.)
   */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Whether a frame is open (a start block was seen and its end block not yet). */
  get inFrame(): boolean {
    return this.#inFrame;
  }

  /** Consumes one read and returns the events it completes, in input order. */
  push(chunk: Uint8Array): MllpEvent[] {
    const events: MllpEvent[] = [];
    const len = chunk.length;
    if (len === 0) return events;
    let pos = 0;
    if (this.#swallowCr) {
      this.#swallowCr = false;
      if (chunk[0] === MLLP_CR) pos = 1;
    } else if (this.#pendingFs) {
      this.#pendingFs = false;
      if (chunk[0] === MLLP_CR) {
        this.#finishFrame(events);
        pos = 1;
      } else {
        this.#append(FS_BYTE, 0, 1, events);
      }
    }
    // `pos` is where the not yet appended payload (or skipped run) starts; `scan` is where the
    // next delimiter search starts. They differ only after a strict-mode FS that was payload.
    let scan = pos;
    let view: WordView | null | undefined;
    while (scan < len) {
      if (!this.#inFrame) {
        const start = chunk.indexOf(MLLP_START, pos);
        const gap = (start === -1 ? len : start) - pos;
        if (gap > 0) {
          this.#skipped += gap;
          events.push({ type: "skipped", bytes: gap });
        }
        if (start === -1) return events;
        this.#inFrame = true;
        pos = scan = start + 1;
        continue;
      }
      if (view === undefined) view = wordViewOf(chunk);
      const hit = findStartOrEnd(chunk, scan, view);
      if (hit === -1) {
        this.#append(chunk, pos, len, events);
        return events;
      }
      if (chunk[hit] === MLLP_START) {
        // Appending first makes `oversize` independent of how the input was split.
        this.#append(chunk, pos, hit, events);
        this.#restart(events);
        pos = scan = hit + 1;
        continue;
      }
      if (hit + 1 === len) {
        this.#append(chunk, pos, hit, events);
        if (this.#requireFinalCr) {
          this.#pendingFs = true;
        } else {
          // Tolerant mode must not wait for a CR that may never come: the peer awaits an ACK.
          this.#finishFrame(events);
          this.#swallowCr = true;
        }
        return events;
      }
      if (chunk[hit + 1] === MLLP_CR) {
        this.#complete(chunk, pos, hit, events);
        pos = scan = hit + 2;
      } else if (!this.#requireFinalCr) {
        this.#complete(chunk, pos, hit, events);
        pos = scan = hit + 1;
      } else {
        scan = hit + 1;
      }
    }
    return events;
  }

  /**
   * Signals end of input. Returns a `truncated` event if a frame was open (not for a frame
   * already reported `oversize`), then resets framing state; `skippedBytes` keeps counting.
   */
  end(): MllpEvent[] {
    const events: MllpEvent[] = [];
    if (this.#inFrame && !this.#discarding) {
      events.push({ type: "truncated", bytes: this.#size + (this.#pendingFs ? 1 : 0) });
    }
    this.#resetFrame();
    this.#pendingFs = false;
    this.#swallowCr = false;
    return events;
  }

  #append(chunk: Uint8Array, start: number, end: number, events: MllpEvent[]): void {
    const n = end - start;
    if (n === 0) return;
    const size = this.#size + n;
    this.#size = size;
    if (this.#discarding) return;
    if (size > this.#maxFrameBytes) {
      events.push({ type: "oversize", size, limit: this.#maxFrameBytes });
      this.#discarding = true;
      this.#pieces = [];
      this.#buffered = 0;
      return;
    }
    this.#pieces.push(chunk.subarray(start, end));
    this.#buffered += n;
  }

  /** Appends the frame's last bytes and finishes it, copying once. */
  #complete(chunk: Uint8Array, start: number, end: number, events: MllpEvent[]): void {
    // Fast path for a frame that lies within one read: no piece list, a single slice.
    if (this.#pieces.length === 0 && !this.#discarding && end - start <= this.#maxFrameBytes) {
      events.push({ type: "frame", payload: chunk.slice(start, end) });
      this.#resetFrame();
      return;
    }
    this.#append(chunk, start, end, events);
    this.#finishFrame(events);
  }

  #finishFrame(events: MllpEvent[]): void {
    if (!this.#discarding) events.push({ type: "frame", payload: this.#takePayload() });
    this.#resetFrame();
  }

  #takePayload(): Uint8Array {
    const pieces = this.#pieces;
    if (pieces.length === 1) return pieces[0]!.slice();
    // One allocation and one copy per frame, however many reads it spanned.
    const out = new Uint8Array(this.#buffered);
    let at = 0;
    for (const piece of pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  #restart(events: MllpEvent[]): void {
    if (!this.#discarding) {
      // The abandoned start block and its payload.
      const bytes = 1 + this.#size;
      this.#skipped += bytes;
      events.push({ type: "skipped", bytes });
    }
    this.#resetFrame();
    this.#inFrame = true;
  }

  #resetFrame(): void {
    this.#inFrame = false;
    this.#discarding = false;
    if (this.#pieces.length > 0) this.#pieces = [];
    this.#size = 0;
    this.#buffered = 0;
  }
}
