/**
 * The buffer an MLLP connection reads its socket into. A connection waits on a read from the
 * moment it opens, and the buffer of that read is held all the while: a 64 KiB buffer for every
 * idle connection is 60 MiB for the 1,000 a listener allows. So a connection starts with a
 * {@link FIRST_READ_BYTES} buffer (an ACK, most messages, fit in it), moves to a
 * {@link FULL_READ_BYTES} one when a read fills it (a large message, a burst: as few reads as
 * before but one), and goes back to the small one after {@link SHRINK_AFTER_SHORT_READS} reads in
 * a row that the small one would have held (no reallocation back and forth for a sender whose
 * messages are around the small size).
 * @module
 */

/** What a connection's read holds before any byte came, and while the peer sends little. */
export const FIRST_READ_BYTES = 4 * 1024;
/** The most a read takes at once. */
export const FULL_READ_BYTES = 64 * 1024;
/** Reads in a row shorter than {@link FIRST_READ_BYTES} before the large buffer is let go. */
export const SHRINK_AFTER_SHORT_READS = 16;

/**
 * See the module doc.
 *
 * @example
 * ```ts
 * const buf = new ReadBuffer();
 * for (let n = await conn.read(buf.space); n !== null; n = await conn.read(buf.space)) {
 *   decoder.push(buf.take(n)); // a copy: buf.space is read into again
 * }
 * ```
 */
export class ReadBuffer {
  #buf = new Uint8Array(FIRST_READ_BYTES);
  #shortReads = 0;

  /** Where the next read goes (read into it once, then call {@link take} or {@link skip}). */
  get space(): Uint8Array {
    return this.#buf;
  }

  /** A copy of the `n` bytes the last read put in {@link space}; sizes the next read. */
  take(n: number): Uint8Array {
    const bytes = this.#buf.slice(0, n);
    this.skip(n);
    return bytes;
  }

  /** The last read's `n` bytes are not wanted (dropped): sizes the next read. */
  skip(n: number): void {
    const size = this.#buf.length;
    if (n >= size && size < FULL_READ_BYTES) {
      this.#buf = new Uint8Array(FULL_READ_BYTES);
      this.#shortReads = 0;
    } else if (size > FIRST_READ_BYTES && n < FIRST_READ_BYTES) {
      if (++this.#shortReads >= SHRINK_AFTER_SHORT_READS) {
        this.#buf = new Uint8Array(FIRST_READ_BYTES);
        this.#shortReads = 0;
      }
    } else {
      this.#shortReads = 0;
    }
  }
}
