/** MLLP start block (VT, 0x0B): opens every frame. */
export const MLLP_START = 0x0b;
/** MLLP end block, first byte (FS, 0x1C). */
export const MLLP_END = 0x1c;
/** MLLP end block, second byte (CR, 0x0D), following {@link MLLP_END}. */
export const MLLP_CR = 0x0d;
/** Default {@link MllpDecoderOptions.maxFrameBytes}: 30 MiB of payload. */
export const DEFAULT_MAX_FRAME_BYTES = 30 * 1024 * 1024;
