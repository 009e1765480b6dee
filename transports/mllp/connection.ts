/**
 * An MLLP connection over a Deno socket (TCP or TLS): frames written whole, frames read with the
 * streaming decoder, and a queue of received frames for whoever waits on them.
 * @module
 */

import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";
import type { MllpConnection, Received } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";

/** Options for {@link SocketMllpConnection}. */
export interface SocketMllpConnectionOptions {
  /** Largest frame accepted from the peer, default 30 MiB. */
  maxFrameBytes?: number;
}

/** See the module doc. */
export class SocketMllpConnection implements MllpConnection {
  readonly #conn: Deno.Conn;
  readonly #decoder: MllpDecoder;
  readonly #frames: Uint8Array[] = [];
  #waiter: ((r: Received) => void) | undefined;
  #closed: string | undefined;
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
    return this.#closed === undefined;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let reason = "closed by the peer";
    try {
      while (this.#closed === undefined) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        // A copy: the decoder keeps views of pushed chunks until their frame ends, and buf is reused.
        for (const event of this.#decoder.push(buf.slice(0, n))) {
          if (event.type === "frame") this.#deliver(event.payload);
          else if (event.type === "oversize") {
            reason = `the peer sent a frame over ${event.limit} bytes`;
            this.#closed ??= reason; // the reason, not close()'s "closed by the engine"
            this.close();
          }
        }
      }
    } catch (error) {
      if (this.#closed === undefined) {
        reason = errorMessage(error);
      }
    }
    this.#finish(reason);
  }

  #deliver(payload: Uint8Array): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ type: "frame", payload });
    } else this.#frames.push(payload);
  }

  #finish(reason: string): void {
    if (this.#closed === undefined) this.#closed = reason;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ type: "closed", reason: this.#closed });
  }

  /** Writes one framed message completely. */
  async send(payload: Uint8Array): Promise<void> {
    if (this.#closed !== undefined) throw new Error(`connection closed: ${this.#closed}`);
    const frame = encodeMllp(payload);
    let off = 0;
    while (off < frame.length) off += await this.#conn.write(frame.subarray(off));
  }

  /** The next frame, the end of the connection, or `aborted`. */
  receive(signal: AbortSignal): Promise<Received> {
    const queued = this.#frames.shift();
    if (queued) return Promise.resolve({ type: "frame", payload: queued });
    if (this.#closed !== undefined) {
      return Promise.resolve({ type: "closed", reason: this.#closed });
    }
    if (signal.aborted) return Promise.resolve({ type: "aborted" });
    if (this.#waiter) {
      return Promise.reject(new Error("receive: another wait is already under way"));
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        if (this.#waiter === done) this.#waiter = undefined;
        resolve({ type: "aborted" });
      };
      const done = (r: Received) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      };
      this.#waiter = done;
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Ends the wait under way, if any, with `aborted`. */
  interrupt(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ type: "aborted" });
  }

  /** Closes the socket. */
  close(): void {
    if (this.#closed === undefined) this.#closed = "closed by the engine";
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
