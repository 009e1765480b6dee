/**
 * MLLP (Minimal Lower Layer Protocol) framing: a frame is 0x0B, payload, 0x1C 0x0D.
 *
 * - {@link MllpDecoder}: incremental push decoder for socket transports.
 * - {@link MllpDecoderStream}: the same as a `TransformStream<Uint8Array, MllpEvent>`.
 * - {@link encodeMllp} / {@link MllpEncoderStream}: framing for sending.
 *
 * @module
 */
export { DEFAULT_MAX_FRAME_BYTES, MLLP_CR, MLLP_END, MLLP_START } from "./constants.ts";
export type {
  MllpDecoderOptions,
  MllpEvent,
  MllpFrameEvent,
  MllpOversizeEvent,
  MllpSkippedEvent,
  MllpTruncatedEvent,
} from "./events.ts";
export { MllpDecoder } from "./decoder.ts";
export { createMllpDecoder, MllpDecoderStream } from "./decoder_stream.ts";
export {
  encodeMllp,
  MllpEncodeError,
  type MllpEncodeOptions,
  MllpEncoderStream,
} from "./encoder.ts";
