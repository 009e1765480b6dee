/**
 * The connection a deliverer keeps open between messages (an MLLP socket, an SFTP session): when
 * it was opened, when it last carried traffic, and closing it after an idle period. The idle
 * period is measured on the clock's monotonic reading (a wall-clock step neither closes a busy
 * connection nor keeps an idle one open); `connectedAt` is the wall time, for display.
 * @module
 */

import type { Logger } from "../runtime/log.ts";

/** What a held connection must offer. */
export interface Link {
  readonly open: boolean;
  /** Local address and port, for the admin endpoint. */
  readonly local?: string;
  close(): void;
}

/** What a {@link HeldLink} is made of. */
export interface HeldLinkOptions {
  actorId: string;
  /** Close after this long without traffic. */
  idleCloseMs: number;
  /** The log event of an idle close, e.g. `mllp.idle-close`. */
  idleEvent: string;
  log: Logger;
}

/** See the module doc. */
export class HeldLink<T extends Link> {
  readonly #options: HeldLinkOptions;
  #link: T | undefined;
  /** Monotonic time of the last traffic. */
  #lastTraffic = 0;
  #connectedAt: number | undefined;

  /** Holds nothing yet. */
  constructor(options: HeldLinkOptions) {
    this.#options = options;
  }

  /** The connection while it is open. */
  get current(): T | undefined {
    return this.#link?.open ? this.#link : undefined;
  }

  /** Holds a new connection opened at wall time `at`, monotonic time `mono`. */
  hold(link: T, at: number, mono: number): void {
    this.#link = link;
    this.#connectedAt = at;
    this.#lastTraffic = mono;
  }

  /** Notes traffic at monotonic time `mono`, which postpones the idle close. */
  touch(mono: number): void {
    this.#lastTraffic = mono;
  }

  /**
   * The connection held, if it ended by itself since (the peer closed it, a fault) rather than
   * by {@link drop}; it is forgotten, so each end is reported once.
   */
  lost(): T | undefined {
    const link = this.#link;
    if (!link || link.open) return undefined;
    this.#link = undefined;
    this.#connectedAt = undefined;
    return link;
  }

  /** Closes the connection (if any) and forgets it. */
  drop(): void {
    this.#link?.close();
    this.#link = undefined;
    this.#connectedAt = undefined;
  }

  /** Closes a connection that has carried nothing for the idle period (`mono`: monotonic now). */
  idle(mono: number): void {
    if (this.#link?.open && mono - this.#lastTraffic >= this.#options.idleCloseMs) {
      this.#options.log.info(this.#options.idleEvent, {
        actor: this.#options.actorId,
        idleMs: mono - this.#lastTraffic,
      });
      this.drop();
    }
  }

  /** When (monotonic ms) {@link idle} closes the open connection, if any, unless it carries more. */
  closesAt(): number | undefined {
    return this.current ? this.#lastTraffic + this.#options.idleCloseMs : undefined;
  }

  /** `local` and `connectedAt` while open, for the admin endpoint. */
  detail(): { local?: string; connectedAt?: number } {
    const link = this.current;
    if (!link) return {};
    return {
      ...(link.local ? { local: link.local } : {}),
      ...(this.#connectedAt ? { connectedAt: this.#connectedAt } : {}),
    };
  }
}
