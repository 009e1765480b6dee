/**
 * `listen PORT`: a small MLLP receiver for trying the engine out. It prints every message it gets
 * and answers AA, or AE/AR when asked to.
 * @module
 */

import {
  buildAck,
  buildNakForUnparsable,
  decodeHl7,
  parseErrorCondition,
  tryParseHl7,
} from "../../codecs/hl7v2/mod.ts";
import type { Logger, MllpInbox } from "../../actors/ports.ts";
import { type MllpServer, serveMllp } from "./server.ts";

/** Options for {@link listen}. */
export interface ListenOptions {
  port: number;
  hostname?: string;
  /** The code to answer with, default AA. */
  reply?: "AA" | "AE" | "AR";
  /** Where each received message is printed. */
  print(text: string): void;
  log: Logger;
}

const encoder = new TextEncoder();

/** Starts the receiver. */
export function listen(options: ListenOptions): Promise<MllpServer> {
  let count = 0;
  const inbox: MllpInbox = {
    maxFrameBytes: 30 * 1024 * 1024,
    idleTimeoutMs: () => 10 * 60_000,
    oversize: ({ limit }) =>
      encoder.encode(
        buildNakForUnparsable({ reason: `message larger than ${limit} bytes`, errorCode: "104" })
          .encode(),
      ),
    receive: (frame) => {
      const text = decodeHl7(frame.payload).text;
      count++;
      options.print(
        `--- message ${count} from ${frame.peerIp} (${frame.payload.length} bytes)\n${
          text.replace(/\r\n?|\n/g, "\n")
        }\n`,
      );
      const parsed = tryParseHl7(text);
      const code = options.reply ?? "AA";
      if (!parsed.ok) {
        const fault = parseErrorCondition(parsed.error.code);
        const nak = buildNakForUnparsable({
          reason: parsed.error.message,
          raw: text,
          errorCode: fault.code,
          errorLocation: fault.location,
        });
        return Promise.resolve({ reply: encoder.encode(nak.encode()) });
      }
      const ack = buildAck(
        parsed.message,
        code === "AA" ? { code } : { code, error: { text: `listen answers ${code} on request` } },
      );
      return Promise.resolve({ reply: encoder.encode(ack.encode()) });
    },
  };
  return serveMllp({
    port: options.port,
    hostname: options.hostname ?? "0.0.0.0",
    inbox,
    log: options.log,
  });
}
