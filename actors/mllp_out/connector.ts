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
  | { type: "frame"; payload: Uint8Array }
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
  /** Local address and port, for the admin endpoint. */
  readonly local?: string;
}

/** Opens connections. */
export interface MllpConnector {
  /** Connects within `timeoutMs`; rejects with an Error that says why (refused, timeout, TLS). */
  connect(
    target: MllpTarget,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<MllpConnection>;
}
