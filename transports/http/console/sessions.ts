/**
 * Console sessions, in this process's memory: a random id in an `HttpOnly`, `SameSite=Strict`
 * cookie (`Secure` over TLS), a CSRF token per session, and two expiries: idle (no request for
 * `idleMs`) and absolute (`maxMs` after sign-in). Both are measured on the monotonic clock and on
 * the wall clock, and a session ends when either says it has expired: a wall-clock step back does
 * not keep it alive for the step's length (a step forward may end it early, which only asks for
 * a new sign-in).
 * @module
 */

import type { Principal } from "./users.ts";

/** One signed-in browser. */
export interface Session {
  id: string;
  /** Sent back with every state-changing form (`_csrf`) or htmx request (`X-CSRF-Token`). */
  csrf: string;
  principal: Principal;
  createdAt: number;
  lastSeenAt: number;
  address: string;
}

/** Random URL-safe text of `bytes` random bytes. */
export function randomToken(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Sessions kept at most; past it the oldest is dropped. */
const MAX_SESSIONS = 10_000;

/** A session with its monotonic times. */
interface Held {
  session: Session;
  createdMono: number;
  lastSeenMono: number;
}

/** See the module doc. */
export class Sessions {
  readonly #sessions = new Map<string, Held>();
  readonly idleMs: number;
  readonly maxMs: number;
  readonly #now: () => number;
  readonly #monotonic: () => number;

  /**
   * Expiries in ms; `now` is the wall clock (a ManualClock's in tests), `monotonic` a clock that
   * never steps (default `performance.now`).
   */
  constructor(
    options: { idleMs: number; maxMs: number; now: () => number; monotonic?: () => number },
  ) {
    this.idleMs = options.idleMs;
    this.maxMs = options.maxMs;
    this.#now = options.now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
  }

  /** Starts a session for `principal`. */
  create(principal: Principal, address: string): Session {
    if (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#sessions.delete(oldest);
    }
    const now = this.#now();
    const session: Session = {
      id: randomToken(),
      csrf: randomToken(),
      principal,
      createdAt: now,
      lastSeenAt: now,
      address,
    };
    const mono = this.#monotonic();
    this.#sessions.set(session.id, { session, createdMono: mono, lastSeenMono: mono });
    return session;
  }

  /** The live session of `id` (its idle time restarted), or undefined when unknown or expired. */
  touch(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const held = this.#sessions.get(id);
    if (!held) return undefined;
    const s = held.session;
    const now = this.#now();
    const mono = this.#monotonic();
    if (
      mono - held.lastSeenMono >= this.idleMs || mono - held.createdMono >= this.maxMs ||
      now - s.lastSeenAt >= this.idleMs || now - s.createdAt >= this.maxMs
    ) {
      this.#sessions.delete(id);
      return undefined;
    }
    s.lastSeenAt = now;
    held.lastSeenMono = mono;
    return s;
  }

  /** Ends a session (sign-out). */
  end(id: string): void {
    this.#sessions.delete(id);
  }

  /** Ends every session of a user (deleted by an admin); the admin token's are not a user's. */
  endUser(name: string): void {
    for (const [id, { session: s }] of this.#sessions) {
      if (s.principal.name === name && !s.principal.adminToken) this.#sessions.delete(id);
    }
  }
}
