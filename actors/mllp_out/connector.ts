/**
 * The interface an outbound MLLP actor needs from a transport. `main.ts` injects the socket
 * implementation from `transports/`; the actor never touches a socket itself.
 * @module
 */

/** Where to connect, and how. */
export interface MllpTarget {
  host: string;
  port: number;
  /** TLS 1.2+ when present; the server certificate must name `host`. PEM strings. */
  tls?: { ca?: string; cert?: string; key?: string };
}

/** What a wait for a frame ended with. */
export type Received =
  | {
    type: "frame";
    payload: Uint8Array;
    /**
     * The key of the message the connection sent on its own as soon as this frame accepted the
     * one before it (see {@link MllpRunAhead}); absent when it sent nothing.
     */
    followedBy?: string;
  }
  | { type: "closed"; reason: string }
  | { type: "aborted" };

/** One open connection to a remote MLLP receiver. */
export interface MllpConnection {
  /** Frames and writes one message; rejects if the socket fails. */
  send(payload: Uint8Array): Promise<void>;
  /** The next frame received (in order), the connection's end, or `aborted` when `signal` aborts. */
  receive(signal: AbortSignal): Promise<Received>;
  /**
   * Ends the {@link receive} under way (if any) with `aborted`, as its signal would: how a caller
   * times a wait out without a signal (and its listeners) made for every wait.
   */
  interrupt(): void;
  /** Closes the socket (idempotent). */
  close(): void;
  /** False once the socket closed for any reason. */
  readonly open: boolean;
  /** Why the connection ended, once it has (the peer closed it, a fault, the engine closed it). */
  readonly endReason?: string;
  /** Local address and port, for the admin endpoint. */
  readonly local?: string;
  /** Present when the connection can send queued messages on its own (see the type). */
  readonly runAhead?: MllpRunAhead;
}

/** A message a connection may send on its own (see {@link MllpRunAhead}). */
export interface AheadMessage {
  /** Which message this is (its queue entry's seq). */
  key: string;
  /** Its MSH-10, which an accepting ACK names in MSA-2. */
  controlId: string;
  payload: Uint8Array;
}

/**
 * A connection whose socket is read and written on a thread of its own may send the next queued
 * message itself the moment an accepting ACK (MSA-1 AA or CA, MSA-2 the control ID of the message
 * on the wire) arrives, instead of waiting for the caller's thread to take the ACK and send: FIFO
 * and one message in flight still hold, and a frame that was followed so says which message
 * followed it ({@link Received} `followedBy`). It sends on its own only while allowed (a deadline
 * the caller renews each time its gate lets a message go) and not held, and only the message
 * listed right after the one on the wire.
 */
export interface MllpRunAhead {
  /**
   * Like `send`, naming the message so that its accepting ACK can be followed; with `next`, the
   * messages that follow it too, as {@link follow} would give them (one crossing, not two).
   */
  sendKeyed(message: AheadMessage, next?: readonly AheadMessage[]): Promise<void>;
  /**
   * The messages that follow message `after`, in queue order: what the list holds up to `after`
   * stays, what it holds after it is replaced (so a caller may send only what is new, after the
   * list's last message); a list that does not hold `after` is replaced whole.
   */
  follow(after: string, next: readonly AheadMessage[]): void;
  /** Allows sending on its own for `ms` from now. */
  allow(ms: number): void;
  /** Sends nothing more on its own until {@link allow} is called again. */
  hold(): void;
}

/** Opens connections. */
export interface MllpConnector {
  /** Connects within `timeoutMs`; rejects with an Error that says why (refused, timeout, TLS). */
  connect(
    target: MllpTarget,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<MllpConnection>;
}
