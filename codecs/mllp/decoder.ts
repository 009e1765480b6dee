import { DEFAULT_MAX_FRAME_BYTES, MLLP_CR, MLLP_END, MLLP_START } from "./constants.ts";
import type { MllpDecoderOptions, MllpEvent } from "./events.ts";
import { findStartOrEnd, type WordView, wordViewOf } from "./scan.ts";

// Stands in for an FS that turned out to be payload after the read it ended.
const FS_BYTE = Uint8Array.of(MLLP_END);
// Payload runs shorter than this are copied into a staging block rather than held as views of
// the read: each view costs 100-200 bytes of objects, so a peer trickling 1-byte reads would
// otherwise make a frame within the limit cost hundreds of times its size (GBs for 30 MiB).
const COPY_BELOW = 4096;
// Staging block size: at most one held object per this many staged bytes.
const STAGE_BYTES = 16 * 1024;

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
 * Ownership: payloads of multi-read frames are assembled from views of the pushed chunks
 * (runs under 4 KiB are copied into staging blocks at once), copied once when the frame
 * completes; so a chunk must not be modified after it is pushed (as with any Web Stream
 * chunk). Emitted payloads never alias a pushed chunk.
 */
export class MllpDecoder {
  readonly #maxFrameBytes: number;
  readonly #requireFinalCr: boolean;
  #inFrame = false;
  #discarding = false;
  #pendingFs = false;
  #swallowCr = false;
  #pieces: Uint8Array[] = [];
  /** Staging block for short runs (kept for reuse between frames), and bytes used in it. */
  #stage: Uint8Array | null = null;
  #staged = 0;
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
   * Payload bytes currently held for the open frame; never above `maxFrameBytes`. Memory held
   * stays close to this however the input is split: runs of 4 KiB or more are held as views
   * (which also keep the rest of their read alive), shorter ones are copied into 16 KiB blocks.
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
      this.#staged = 0;
      return;
    }
    this.#buffered += n;
    if (n >= COPY_BELOW) {
      this.#flushStage();
      this.#pieces.push(chunk.subarray(start, end));
      return;
    }
    for (let at = start; at < end;) {
      const stage = this.#stage ??= new Uint8Array(STAGE_BYTES);
      const take = Math.min(end - at, STAGE_BYTES - this.#staged);
      stage.set(chunk.subarray(at, at + take), this.#staged);
      this.#staged += take;
      at += take;
      if (this.#staged === STAGE_BYTES) {
        // A full block is handed over whole; the next short run starts a new one.
        this.#pieces.push(stage);
        this.#stage = null;
        this.#staged = 0;
      }
    }
  }

  /** Moves staged bytes to the piece list (before a view, to keep order) as an exact copy. */
  #flushStage(): void {
    if (this.#staged === 0) return;
    // A copy, not a view: a view would pin the whole block for what may be one byte.
    this.#pieces.push(this.#stage!.slice(0, this.#staged));
    this.#staged = 0;
  }

  /** Appends the frame's last bytes and finishes it, copying once. */
  #complete(chunk: Uint8Array, start: number, end: number, events: MllpEvent[]): void {
    // Fast path for a frame that lies within one read (nothing held, in pieces or staged):
    // a single slice.
    if (this.#buffered === 0 && !this.#discarding && end - start <= this.#maxFrameBytes) {
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
    const staged = this.#staged;
    if (pieces.length === 0) return this.#stage?.slice(0, staged) ?? new Uint8Array(0);
    if (pieces.length === 1 && staged === 0) return pieces[0]!.slice();
    // One allocation and one copy per frame, however many reads it spanned.
    const out = new Uint8Array(this.#buffered);
    let at = 0;
    for (const piece of pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    if (staged > 0) out.set(this.#stage!.subarray(0, staged), at);
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
    this.#staged = 0;
    this.#size = 0;
    this.#buffered = 0;
  }
}
