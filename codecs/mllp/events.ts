/** A complete frame; `payload` excludes the start and end blocks and is a fresh copy. */
export interface MllpFrameEvent {
  /** Discriminant. */
  type: "frame";
  /** Frame content between the start block and the end block. */
  payload: Uint8Array;
}

/**
 * Bytes that were not part of any frame: garbage before a start block, or a partial frame
 * abandoned because a new start block arrived inside it (the opening start block included).
 * A run that spans several reads is reported once per read.
 */
export interface MllpSkippedEvent {
  /** Discriminant. */
  type: "skipped";
  /** Number of bytes skipped in this run. */
  bytes: number;
}

/**
 * A frame grew past `maxFrameBytes`. Emitted once per frame, as soon as the limit is crossed;
 * the rest of that frame is dropped without buffering up to its end block. The frame itself
 * is never emitted. Transports usually NACK and close the connection on this event.
 */
export interface MllpOversizeEvent {
  /** Discriminant. */
  type: "oversize";
  /** Payload bytes seen when the limit was crossed (a lower bound of the real size). */
  size: number;
  /** The configured `maxFrameBytes`. */
  limit: number;
}

/** The input ended inside a frame (emitted by `end()` / stream flush). */
export interface MllpTruncatedEvent {
  /** Discriminant. */
  type: "truncated";
  /** Payload bytes received for the unfinished frame (start block excluded). */
  bytes: number;
}

/** Everything the MLLP decoder reports, discriminated on `type`. */
export type MllpEvent = MllpFrameEvent | MllpSkippedEvent | MllpOversizeEvent | MllpTruncatedEvent;

/** Options for {@link MllpDecoder} and {@link MllpDecoderStream}. */
export interface MllpDecoderOptions {
  /**
   * Largest accepted payload, in bytes (start/end blocks not counted). Default 30 MiB
   * (31457280). A frame of exactly this size is accepted.
   */
  maxFrameBytes?: number;
  /**
   * `true` (default, strict MLLP): the end block is the two bytes FS CR; an FS followed by any
   * other byte is payload. `false` (tolerant): an FS alone ends the frame; a CR right after it
   * is consumed as part of the end block, even when it arrives in a later read.
   */
  requireFinalCr?: boolean;
}
