/**
 * An MLLP connection over a Deno socket (TCP or TLS): frames written whole, frames read with the
 * streaming decoder, and a queue of received frames for whoever waits on them.
 * @module
 */

import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";
import type { MllpConnection, Received } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";
import { FrameInbox } from "./frame_inbox.ts";
import { ReadBuffer } from "./read_buffer.ts";

/** Options for {@link SocketMllpConnection}. */
export interface SocketMllpConnectionOptions {
  /** Largest frame accepted from the peer, default 30 MiB. */
  maxFrameBytes?: number;
}

/**
 * Replies a destination may send for each message (an accept acknowledgment and an application
 * one, in enhanced mode), and how many replies that answer nothing sent it may get ahead by. A
 * receiver sends one or two replies a message, and now and then a late or repeated one; past
 * that it floods the connection, and every frame it sends would be read and held (a peer writing
 * unsolicited ACKs as fast as TCP takes them grew the engine by ~1 KB a frame, hundreds of MB in
 * seconds, and kept its thread too busy to renew other actors' leases).
 */
const REPLIES_PER_MESSAGE = 2;
const SPARE_REPLIES = 16;
/** Reply credit a connection may save up while the destination answers less than it may. */
const MAX_REPLY_CREDIT = 2 * REPLIES_PER_MESSAGE;

/**
 * The part of a socket an {@link SocketMllpConnection} uses: a `Deno.Conn` (TCP), or the
 * `node:tls` socket of client.ts behind the same methods.
 */
export type MllpSocket = Pick<Deno.Conn, "read" | "write" | "close" | "localAddr">;

/** See the module doc. */
export class SocketMllpConnection implements MllpConnection {
  readonly #conn: MllpSocket;
  readonly #decoder: MllpDecoder;
  readonly #inbox = new FrameInbox();
  /** Replies the destination may still send: {@link REPLIES_PER_MESSAGE} a message sent. */
  #replyCredit = 0;
  /** Replies beyond that, since the connection opened. */
  #unasked = 0;
  /** `ip:port` of this end. */
  readonly local: string;

  /** Wraps an open socket and starts reading from it. */
  constructor(conn: MllpSocket, options: SocketMllpConnectionOptions = {}) {
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

  /** Why the connection ended, once it has. */
  get endReason(): string | undefined {
    return this.#inbox.ended;
  }

  async #readLoop(): Promise<void> {
    // Small until the destination sends much (read_buffer.ts): most connections wait idle.
    const buf = new ReadBuffer();
    let reason = "closed by the peer";
    try {
      while (this.#inbox.ended === undefined) {
        const n = await this.#conn.read(buf.space);
        if (n === null) break;
        // A copy: the decoder keeps views of pushed chunks until their frame ends, and buf is reused.
        for (const event of this.#decoder.push(buf.take(n))) {
          if (event.type === "frame") {
            // A frame the flood check refuses is not kept: the connection ends with it.
            if (this.#tooManyReplies()) {
              reason = `the destination sent more than ${SPARE_REPLIES} replies beyond ` +
                `${REPLIES_PER_MESSAGE} a message sent (it floods the connection)`;
              this.#inbox.end(reason);
              this.close();
              break;
            }
            this.#inbox.put({ type: "frame", payload: event.payload });
          } else if (event.type === "oversize") {
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

  /** Counts a reply; true once the destination is more than SPARE_REPLIES replies ahead. */
  #tooManyReplies(): boolean {
    if (this.#replyCredit > 0) {
      this.#replyCredit--;
      return false;
    }
    return ++this.#unasked > SPARE_REPLIES;
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
    // Counted before the write: its replies may come before the write's answer does.
    this.#replyCredit = Math.min(this.#replyCredit + REPLIES_PER_MESSAGE, MAX_REPLY_CREDIT);
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
