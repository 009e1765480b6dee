/**
 * An MLLP connection over a Deno socket (TCP or TLS): frames written whole, frames read with the
 * streaming decoder, and a queue of received frames for whoever waits on them.
 * @module
 */

import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";
import type { MllpConnection, Received } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";
import { FrameInbox } from "./frame_inbox.ts";

/** Options for {@link SocketMllpConnection}. */
export interface SocketMllpConnectionOptions {
  /** Largest frame accepted from the peer, default 30 MiB. */
  maxFrameBytes?: number;
}

/** See the module doc. */
export class SocketMllpConnection implements MllpConnection {
  readonly #conn: Deno.Conn;
  readonly #decoder: MllpDecoder;
  readonly #inbox = new FrameInbox();
  /** `ip:port` of this end. */
  readonly local: string;

  /** Wraps an open socket and starts reading from it. */
  constructor(conn: Deno.Conn, options: SocketMllpConnectionOptions = {}) {
    this.#conn = conn;
    this.#decoder = new MllpDecoder({ maxFrameBytes: options.maxFrameBytes ?? 30 * 1024 * 1024 });
    const addr = conn.localAddr as Deno.NetAddr;
    this.local = `${addr.hostname}:${addr.port}`;
    void this.#readLoop();
  }

  /** False once closed by either side. */
  get open(): boolean {
    return this.#inbox.ended === undefined;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let reason = "closed by the peer";
    try {
      while (this.#inbox.ended === undefined) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        // A copy: the decoder keeps views of pushed chunks until their frame ends, and buf is reused.
        for (const event of this.#decoder.push(buf.slice(0, n))) {
          if (event.type === "frame") this.#inbox.put({ type: "frame", payload: event.payload });
          else if (event.type === "oversize") {
            reason = `the peer sent a frame over ${event.limit} bytes`;
            this.#inbox.end(reason); // the reason, not close()'s "closed by the engine"
            this.close();
          }
        }
      }
    } catch (error) {
      if (this.#inbox.ended === undefined) {
        reason = errorMessage(error);
      }
    }
    this.#finish(reason);
  }

  #finish(reason: string): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.#inbox.end(reason);
  }

  /** Writes one framed message completely. */
  async send(payload: Uint8Array): Promise<void> {
    const ended = this.#inbox.ended;
    if (ended !== undefined) throw new Error(`connection closed: ${ended}`);
    const frame = encodeMllp(payload);
    let off = 0;
    while (off < frame.length) off += await this.#conn.write(frame.subarray(off));
  }

  /** The next frame, the end of the connection, or `aborted`. */
  receive(signal: AbortSignal): Promise<Received> {
    return this.#inbox.receive(signal);
  }

  /** Ends the wait under way, if any, with `aborted`. */
  interrupt(): void {
    this.#inbox.interrupt();
  }

  /** Closes the socket. */
  close(): void {
    this.#inbox.end("closed by the engine");
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
