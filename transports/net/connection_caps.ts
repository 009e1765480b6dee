/**
 * Caps on the connections one listener holds, in all and per peer address, checked when a
 * connection is accepted (before any TLS or SSH handshake: a refused connection costs no
 * cryptography). Every connection is a file descriptor of the process, shared by all its
 * listeners (MLLP, HTTP(S), hosted SFTP), its outbound sockets and its KV store: without a total
 * cap, clients from many addresses (or one NAT or proxy, from many source ports) could take them
 * all and stop every listener's intake at once.
 *
 * A refused connection is logged at most once per address every {@link REFUSAL_LOG_INTERVAL_MS}
 * (warn), with how many were refused since the last line (`refused`, this one included). The
 * HTTP(S) listener (`transports/http/connection_limits.ts`) and the hosted SFTP server
 * (`transports/sftp/server.ts`) use it.
 * @module
 */

import type { Logger } from "../../actors/ports.ts";
import { LogThrottle } from "../../actors/mod.ts";

/** One refusal line per peer address at most this often, with the count since the last. */
export const REFUSAL_LOG_INTERVAL_MS = 5_000;

/** What {@link ConnectionCaps} takes. */
export interface ConnectionCapsOptions {
  log: Logger;
  /** The event of the refusal line, e.g. `http.connection-refused`. */
  event: string;
  /** Most connections open at once. */
  maxConnections: number;
  /** Most connections open at once from one address; no per-address cap when left out. */
  maxConnectionsPerPeer?: number;
  /** The `reason` of a refusal by the total cap. */
  totalReason: string;
  /** The `reason` of a refusal by the per-address cap. */
  perPeerReason?: string;
  /** Milliseconds on a clock that never steps, for the log's interval; `performance.now`. */
  monotonic?: () => number;
}

/** See the module doc. Count a connection with {@link admit}, and {@link release} it on close. */
export class ConnectionCaps {
  readonly #options: ConnectionCapsOptions;
  readonly #perPeer = new Map<string, number>();
  readonly #refusals: LogThrottle;
  #open = 0;
  #refused = 0;

  /** Caps as configured. */
  constructor(options: ConnectionCapsOptions) {
    this.#options = options;
    this.#refusals = new LogThrottle(REFUSAL_LOG_INTERVAL_MS, options.monotonic);
  }

  /** The total cap. */
  get maxConnections(): number {
    return this.#options.maxConnections;
  }

  /** Connections admitted and not released. */
  get open(): number {
    return this.#open;
  }

  /** Connections refused since start. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Counts a new connection from `peer` and returns true, or, past a cap, logs the refusal
   * (throttled) and returns false: the caller then closes the connection at once.
   */
  admit(peer: string): boolean {
    const { maxConnections, maxConnectionsPerPeer } = this.#options;
    const fromPeer = this.#perPeer.get(peer) ?? 0;
    const why = this.#open >= maxConnections
      ? { reason: this.#options.totalReason, cap: maxConnections }
      : maxConnectionsPerPeer !== undefined && fromPeer >= maxConnectionsPerPeer
      ? {
        reason: this.#options.perPeerReason ?? "too many connections from this address",
        cap: maxConnectionsPerPeer,
      }
      : undefined;
    if (why) {
      this.#refused++;
      const refused = this.#refusals.note(peer);
      if (refused > 0) this.#options.log.warn(this.#options.event, { peer, ...why, refused });
      return false;
    }
    this.#open++;
    this.#perPeer.set(peer, fromPeer + 1);
    return true;
  }

  /** A connection {@link admit} counted from `peer` closed. */
  release(peer: string): void {
    this.#open = Math.max(0, this.#open - 1);
    const left = (this.#perPeer.get(peer) ?? 1) - 1;
    if (left > 0) this.#perPeer.set(peer, left);
    else this.#perPeer.delete(peer);
  }
}

/**
 * The peer's address of `socket` (any socket or stream with a `remoteAddress`), IPv4-mapped IPv6
 * as plain IPv4 (`::ffff:10.0.0.1`: `10.0.0.1`); `unknown` without one.
 */
export function peerAddress(socket: object): string {
  const remote = (socket as { remoteAddress?: unknown }).remoteAddress;
  const address = typeof remote === "string" ? remote : "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
