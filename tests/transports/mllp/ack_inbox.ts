/**
 * An inbox answering AA, with nothing but the engine's own modules behind it: the child process
 * that runs out of file descriptors imports it, and must have nothing left to load lazily (npm
 * packages, certificates) once its descriptors are gone.
 * @module
 */

import { buildAck, buildNakForUnparsable, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import type { MllpInbox } from "../../../actors/ports.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An inbox answering AA (after `delayMs()` when given), and AR to an over-size frame. */
export function ackInbox(
  options: { maxFrameBytes?: number; delayMs?: () => number } = {},
): MllpInbox {
  return {
    maxFrameBytes: options.maxFrameBytes ?? 1 << 20,
    idleTimeoutMs: () => 10_000,
    oversize: ({ limit }) =>
      enc.encode(buildNakForUnparsable({ reason: `message larger than ${limit} bytes` }).encode()),
    receive: async (f) => {
      const delay = options.delayMs?.() ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return {
        reply: enc.encode(buildAck(parseHl7(dec.decode(f.payload)), { code: "AA" }).encode()),
      };
    },
  };
}
