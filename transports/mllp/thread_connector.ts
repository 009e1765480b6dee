/**
 * Outbound MLLP connections whose sockets live on a thread of their own (`out_worker.ts`), one
 * thread for all of a process's destinations, started with the first connection and ended by
 * {@link ThreadMllpConnector.close} (the engine's stop). The engine's thread sees the same
 * {@link MllpConnection} as with a socket of its own, plus {@link MllpRunAhead}: under load an ACK
 * is taken and the next message sent on that thread at once, rather than at the engine thread's
 * next turn behind the intake's work.
 * @module
 */

import type {
  AheadMessage,
  Logger,
  MllpConnection,
  MllpConnector,
  MllpRunAhead,
  MllpTarget,
  Received,
} from "../../actors/ports.ts";
import { FrameInbox } from "./frame_inbox.ts";
import { nowMs, type ToMain, type ToThread } from "./thread_protocol.ts";

/** Options for {@link ThreadMllpConnector}. */
export interface ThreadMllpConnectorOptions {
  /** Largest frame accepted from a peer, default 30 MiB. */
  maxFrameBytes?: number;
  /** The thread's module, default `out_worker.ts` (tests give one that fails on purpose). */
  threadModule?: URL;
  /**
   * Where the thread's start (`mllp.thread-started`, with the nice value it runs at) and failure
   * (`mllp.thread-failed`) are told, besides each connection's end.
   */
  log?: Logger;
}

/**
 * An {@link MllpConnector} whose connections are held by the socket thread.
 *
 * @example
 * ```ts
 * const connector = new ThreadMllpConnector();
 * const conn = await connector.connect({ host: "127.0.0.1", port: 2575 }, {
 *   timeoutMs: 10_000,
 *   signal: new AbortController().signal,
 * });
 * conn.close();
 * connector.close();
 * ```
 */
export class ThreadMllpConnector implements MllpConnector {
  readonly #options: ThreadMllpConnectorOptions;
  #worker: Worker | undefined;
  readonly #conns = new Map<number, ThreadMllpConnection>();
  readonly #connecting = new Map<
    number,
    { resolve(c: ThreadMllpConnection): void; reject(e: Error): void; conn: ThreadMllpConnection }
  >();
  #nextId = 1;

  /** A connector; its thread starts with the first connection. */
  constructor(options: ThreadMllpConnectorOptions = {}) {
    this.#options = options;
  }

  /** Connections open or being opened (each is forgotten when it ends). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Connects on the socket thread; rejects with the reason it could not. */
  connect(
    target: MllpTarget,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<MllpConnection> {
    if (options.signal.aborted) return Promise.reject(new Error("aborted"));
    const id = this.#nextId++;
    const control = new SharedArrayBuffer(8);
    const conn = new ThreadMllpConnection(id, control, (m) => this.#post(m), () => this.#ended(id));
    this.#conns.set(id, conn);
    return new Promise<MllpConnection>((resolve, reject) => {
      const onAbort = () => conn.close();
      options.signal.addEventListener("abort", onAbort, { once: true });
      this.#connecting.set(id, {
        conn,
        resolve: (c) => {
          options.signal.removeEventListener("abort", onAbort);
          resolve(c);
        },
        reject: (e) => {
          options.signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      });
      const message: ToThread = {
        op: "connect",
        id,
        target,
        timeoutMs: options.timeoutMs,
        control,
        ...(this.#options.maxFrameBytes ? { maxFrameBytes: this.#options.maxFrameBytes } : {}),
      };
      this.#post(message);
    });
  }

  #post(message: ToThread): void {
    this.#thread().postMessage(message);
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const worker = this.#options.threadModule
      ? new Worker(this.#options.threadModule.href, { type: "module" })
      // Written out whole: tests/cli/packaging_test.ts finds the module for the compile task here.
      : new Worker(new URL("./out_worker.ts", import.meta.url).href, { type: "module" });
    worker.onmessage = (event: MessageEvent<ToMain>) => this.#receive(event.data);
    worker.onerror = (event) => {
      // Not the engine's end: every connection ends with the reason, the next connect starts a
      // fresh thread.
      event.preventDefault();
      this.#lost(`the MLLP socket thread failed: ${event.message}`);
    };
    worker.onmessageerror = () => this.#lost("the MLLP socket thread sent an unreadable message");
    this.#worker = worker;
    return worker;
  }

  #receive(m: ToMain): void {
    if (m.ev === "started") {
      if (m.error === undefined) {
        this.#options.log?.info(
          "mllp.thread-started",
          m.nice !== undefined ? { nice: m.nice } : {},
        );
      } else {
        this.#options.log?.warn("mllp.thread-started", {
          nice: "unchanged",
          reason: `could not lower the socket thread's priority: ${m.error}`,
        });
      }
      return;
    }
    if (m.ev === "connected" || m.ev === "connect-failed") {
      const waiting = this.#connecting.get(m.id);
      this.#connecting.delete(m.id);
      if (!waiting) return;
      if (m.ev === "connected") {
        if (!waiting.conn.opened(m.local)) return; // closed (aborted) meanwhile
        waiting.resolve(waiting.conn);
      } else {
        waiting.conn.ended(m.error);
        waiting.reject(new Error(m.error));
      }
      return;
    }
    this.#conns.get(m.id)?.event(m);
  }

  /** The thread is gone: every connection ends. */
  #lost(reason: string): void {
    this.#options.log?.error("mllp.thread-failed", {
      reason,
      connections: this.#conns.size,
      next: "each destination retries; its next connection starts the thread again",
    });
    const worker = this.#worker;
    this.#worker = undefined;
    worker?.terminate();
    for (const [id, waiting] of this.#connecting) {
      this.#connecting.delete(id);
      waiting.reject(new Error(reason));
    }
    for (const conn of [...this.#conns.values()]) conn.ended(reason);
  }

  #ended(id: number): void {
    this.#conns.delete(id);
    const waiting = this.#connecting.get(id);
    if (waiting) {
      this.#connecting.delete(id);
      waiting.reject(new Error("aborted"));
    }
  }

  /**
   * Ends every connection and the thread (it keeps the process alive while it runs). A later
   * `connect` starts a new one.
   */
  close(): void {
    const worker = this.#worker;
    if (!worker) return;
    // Ended here, not through the thread: posting to it now would start another.
    for (const conn of [...this.#conns.values()]) conn.ended("closed by the engine");
    this.#worker = undefined;
    worker.terminate();
  }
}

/** One connection held by the socket thread; see {@link ThreadMllpConnector}. */
class ThreadMllpConnection implements MllpConnection, MllpRunAhead {
  readonly #id: number;
  readonly #control: BigInt64Array;
  readonly #post: (m: ToThread) => void;
  readonly #onEnd: () => void;
  readonly #inbox = new FrameInbox();
  readonly #writes = new Map<number, { resolve(): void; reject(e: Error): void }>();
  #nextReq = 1;
  #connected = false;
  local: string | undefined;

  constructor(
    id: number,
    control: SharedArrayBuffer,
    post: (m: ToThread) => void,
    onEnd: () => void,
  ) {
    this.#id = id;
    this.#control = new BigInt64Array(control);
    this.#post = post;
    this.#onEnd = onEnd;
  }

  /** Sends on its own (see {@link MllpRunAhead}). */
  get runAhead(): MllpRunAhead {
    return this;
  }

  get open(): boolean {
    return this.#inbox.ended === undefined;
  }

  get endReason(): string | undefined {
    return this.#inbox.ended;
  }

  /** The thread connected it; false when the engine closed it meanwhile. */
  opened(local: string | undefined): boolean {
    if (this.#inbox.ended !== undefined) return false;
    this.#connected = true;
    this.local = local;
    return true;
  }

  /** An event of this connection from the thread. */
  event(m: ToMain): void {
    switch (m.ev) {
      case "written":
        this.#writes.get(m.req)?.resolve();
        this.#writes.delete(m.req);
        return;
      case "write-failed":
        this.#writes.get(m.req)?.reject(new Error(m.error));
        this.#writes.delete(m.req);
        return;
      case "frame":
        this.#inbox.put({
          type: "frame",
          payload: m.payload,
          ...(m.followedBy ? { followedBy: m.followedBy } : {}),
        });
        return;
      case "closed":
        this.ended(m.reason);
        return;
    }
  }

  /** The connection ended (`reason`); whoever waits learns it. */
  ended(reason: string): void {
    const first = this.#inbox.ended === undefined;
    this.#inbox.end(reason);
    Atomics.store(this.#control, 0, 0n);
    const closed = new Error(`connection closed: ${this.#inbox.ended}`);
    for (const w of this.#writes.values()) w.reject(closed);
    this.#writes.clear();
    if (first) this.#onEnd();
  }

  send(payload: Uint8Array): Promise<void> {
    return this.#write({ payload });
  }

  sendKeyed(message: AheadMessage, next?: readonly AheadMessage[]): Promise<void> {
    return this.#write(next ? { ...message, next: [...next] } : message);
  }

  #write(
    m: { payload: Uint8Array; key?: string; controlId?: string; next?: AheadMessage[] },
  ): Promise<void> {
    const ended = this.#inbox.ended;
    if (ended !== undefined) return Promise.reject(new Error(`connection closed: ${ended}`));
    const req = this.#nextReq++;
    return new Promise<void>((resolve, reject) => {
      this.#writes.set(req, { resolve, reject });
      this.#post({ op: "send", id: this.#id, req, ...m });
    });
  }

  follow(after: string, next: readonly AheadMessage[]): void {
    if (this.#inbox.ended !== undefined) return;
    this.#post({ op: "follow", id: this.#id, after, next: [...next] });
  }

  allow(ms: number): void {
    if (this.#inbox.ended !== undefined) return;
    Atomics.store(this.#control, 0, BigInt(Math.floor(nowMs() + ms)));
  }

  hold(): void {
    Atomics.store(this.#control, 0, 0n);
  }

  receive(signal: AbortSignal): Promise<Received> {
    return this.#inbox.receive(signal);
  }

  interrupt(): void {
    this.#inbox.interrupt();
  }

  close(): void {
    if (this.#inbox.ended !== undefined) return;
    // Held first: from here the thread sends nothing more on its own, whatever is queued to it.
    Atomics.store(this.#control, 0, 0n);
    this.#post({ op: "close", id: this.#id });
    this.ended(this.#connected ? "closed by the engine" : "aborted");
  }
}
