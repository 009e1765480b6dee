import { MllpDecoder } from "./decoder.ts";
import type { MllpDecoderOptions, MllpEvent } from "./events.ts";

/**
 * Web Streams face of {@link MllpDecoder}: bytes in, {@link MllpEvent}s out. On close of the
 * writable side a `truncated` event is emitted if a frame was open.
 */
export class MllpDecoderStream extends TransformStream<Uint8Array, MllpEvent> {
  readonly #decoder: MllpDecoder;

  /** Creates the stream; options as for {@link MllpDecoder}. */
  constructor(options: MllpDecoderOptions = {}) {
    const decoder = new MllpDecoder(options);
    super({
      transform(chunk, controller) {
        for (const event of decoder.push(chunk)) controller.enqueue(event);
      },
      flush(controller) {
        for (const event of decoder.end()) controller.enqueue(event);
      },
    });
    this.#decoder = decoder;
  }

  /** Running total of skipped bytes (see {@link MllpDecoder.skippedBytes}). */
  get skippedBytes(): number {
    return this.#decoder.skippedBytes;
  }

  /** Payload bytes held for the open frame (see {@link MllpDecoder.bufferedBytes}). */
  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }
}

/** Factory equivalent of `new MllpDecoderStream(options)`. */
export function createMllpDecoder(options: MllpDecoderOptions = {}): MllpDecoderStream {
  return new MllpDecoderStream(options);
}
