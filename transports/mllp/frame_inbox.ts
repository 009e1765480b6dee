/**
 * The receiving side of an outbound MLLP connection, whatever thread reads its socket: frames in
 * the order they came, the one wait for the next, and the reason the connection ended.
 * @module
 */

import type { Received } from "../../actors/ports.ts";

type Frame = Extract<Received, { type: "frame" }>;

/**
 * Frames received and not yet asked for, and at most one wait for the next
 * ({@link MllpConnection.receive}'s contract).
 *
 * @example
 * ```ts
 * const inbox = new FrameInbox();
 * inbox.put({ type: "frame", payload: new Uint8Array([1]) });
 * await inbox.receive(new AbortController().signal); // that frame
 * inbox.end("closed by the peer");
 * ```
 */
export class FrameInbox {
  readonly #frames: Frame[] = [];
  #waiter: ((r: Received) => void) | undefined;
  #ended: string | undefined;

  /** Why the connection ended, once it has. */
  get ended(): string | undefined {
    return this.#ended;
  }

  /** A frame arrived: to the wait under way, or queued. Dropped once the connection ended. */
  put(frame: Frame): void {
    if (this.#ended !== undefined) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(frame);
    } else this.#frames.push(frame);
  }

  /** The connection ended (the first reason given stays); a wait under way learns it. */
  end(reason: string): void {
    this.#ended ??= reason;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ type: "closed", reason: this.#ended });
  }

  /** The next frame (queued ones first, even after the end), the end, or `aborted`. */
  receive(signal: AbortSignal): Promise<Received> {
    const queued = this.#frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#ended !== undefined) return Promise.resolve({ type: "closed", reason: this.#ended });
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
}
