/**
 * Warnings a client can cause once per request or connection without authenticating (refused for
 * its rate, its token, its credentials; a stalled body): throttled per event and client address
 * with {@link LogThrottle}, so that a client repeating one in a loop cannot fill the log (and the
 * disk). Each line carries a count of the events it stands for (this one included, with those
 * held back since the last line).
 * @module
 */

import type { Logger } from "../../actors/ports.ts";
import { LogThrottle, REPEATABLE_LOG_INTERVAL_MS } from "../../actors/mod.ts";

/** The interval of the throttle: per event and address, at most a burst of lines this often. */
export const PEER_LOG_INTERVAL_MS = REPEATABLE_LOG_INTERVAL_MS;

/**
 * The burst of the lines of refused credentials (a wrong token, secret or password): an honest
 * client's occasional mistake is each seen; one retrying in a loop gets this many every 5 s.
 */
export const AUTH_LOG_BURST = 20;

/** What a {@link PeerLog} takes. */
export interface PeerLogOptions {
  /**
   * Lines per event and address within the interval before they are only counted (1). Events an
   * honest client meets now and then (a wrong password) take a burst, so each is still seen.
   */
  burst?: number;
  /** Milliseconds on a monotonic clock, `performance.now` when absent (tests inject one). */
  now?: () => number;
}

/** See the module doc. */
export class PeerLog {
  readonly #log: Logger;
  readonly #throttle: LogThrottle;

  /** Warnings go to `log`. */
  constructor(log: Logger, options: PeerLogOptions = {}) {
    this.#log = log;
    this.#throttle = new LogThrottle(PEER_LOG_INTERVAL_MS, options.now, {
      burst: options.burst ?? 1,
    });
  }

  /**
   * Logs `event` for the client at `address` (an IP address, no port) with `fields` and
   * `[countField]: count`, unless the throttle holds it back (then only counted).
   */
  warn(
    event: string,
    address: string,
    fields: Record<string, unknown>,
    countField = "refused",
  ): void {
    const count = this.#throttle.note(`${event} ${address}`);
    if (count > 0) this.#log.warn(event, { ...fields, [countField]: count });
  }
}
