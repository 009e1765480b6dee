import { MLLP_CR, MLLP_END, MLLP_START } from "./constants.ts";

/** Options for {@link encodeMllp} and {@link MllpEncoderStream}. */
export interface MllpEncodeOptions {
  /**
   * Reject payloads containing a start block (0x0B) or end block (0x1C) byte, which would make
   * the receiver split or restart the frame. Default `true`; turn off only for trusted input.
   */
  validate?: boolean;
}

/** Thrown by {@link encodeMllp} for a payload that cannot be framed unambiguously. */
export class MllpEncodeError extends Error {
  /** Offset of the offending byte in the payload. */
  readonly offset: number;

  /** Creates the error for the control byte found at `offset`. */
  constructor(offset: number, byte: number) {
    super(
      `MLLP payload contains control byte 0x${
        byte.toString(16).padStart(2, "0")
      } at offset ${offset}; it would corrupt framing`,
    );
    this.name = "MllpEncodeError";
    this.offset = offset;
  }
}

const utf8 = new TextEncoder();

/** Wraps a payload in an MLLP frame (0x0B, payload, 0x1C 0x0D); strings are encoded as UTF-8. */
export function encodeMllp(
  payload: Uint8Array | string,
  options: MllpEncodeOptions = {},
): Uint8Array {
  const bytes = typeof payload === "string" ? utf8.encode(payload) : payload;
  if (options.validate ?? true) {
    const start = bytes.indexOf(MLLP_START);
    const end = bytes.indexOf(MLLP_END);
    const bad = start === -1 ? end : end === -1 ? start : Math.min(start, end);
    if (bad !== -1) throw new MllpEncodeError(bad, bytes[bad]!);
  }
  const out = new Uint8Array(bytes.length + 3);
  out[0] = MLLP_START;
  out.set(bytes, 1);
  out[bytes.length + 1] = MLLP_END;
  out[bytes.length + 2] = MLLP_CR;
  return out;
}

/** Frames every chunk written to it as one MLLP message (one chunk in, one frame out). */
export class MllpEncoderStream extends TransformStream<Uint8Array, Uint8Array> {
  /** Creates the stream; options as for {@link encodeMllp}. */
  constructor(options: MllpEncodeOptions = {}) {
    super({
      transform(chunk, controller) {
        controller.enqueue(encodeMllp(chunk, options));
      },
    });
  }
}
