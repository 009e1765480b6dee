/**
 * Console sessions, in this process's memory: a random id in an `HttpOnly`, `SameSite=Strict`
 * cookie (`Secure` over TLS), a CSRF token per session, and two expiries: idle (no request for
 * `idleMs`) and absolute (`maxMs` after sign-in). Both are measured on the monotonic clock and on
 * the wall clock, and a session ends when either says it has expired: a wall-clock step back does
 * not keep it alive for the step's length (a step forward may end it early, which only asks for
 * a new sign-in).
 *
 * A KV user's session is only as good as its user: users in KV are shared by every process on
 * the KV, sessions are not. So the session keeps when its user was last read from KV
 * ({@link Sessions.claimUserCheck}: due every {@link USER_RECHECK_MS}, on either clock), and a
 * session ended because its user went ({@link Sessions.revoke}) tells the next request why.
 * @module
 */

import type { Role } from "../../../actors/ports.ts";
import { type Principal, sameString } from "./users.ts";

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

/**
 * Longest time a KV user's session acts on what KV said of its user (exists, same record, role)
 * without reading it again: page views re-read it at most this often; every state-changing
 * request reads it anyway.
 */
export const USER_RECHECK_MS = 5_000;

/** Why a session was ended from outside: its user was deleted, or deleted and created again. */
export type EndedReason = "deleted" | "re-created";

/** A session ended by {@link Sessions.revoke}: whose, and why. */
export interface Ended {
  user: string;
  reason: EndedReason;
}

/** A session with its monotonic times. */
interface Held {
  session: Session;
  createdMono: number;
  lastSeenMono: number;
  /** When its user was last read from KV (at sign-in first), on both clocks. */
  checkedMono: number;
  checkedAt: number;
}

/** See the module doc. */
export class Sessions {
  readonly #sessions = new Map<string, Held>();
  /** Sessions revoked, until the next request with the cookie (or their expiry). */
  readonly #ended = new Map<string, Ended & { mono: number }>();
  readonly idleMs: number;
  readonly maxMs: number;
  /** See {@link USER_RECHECK_MS}. */
  readonly userRecheckMs: number;
  readonly #now: () => number;
  readonly #monotonic: () => number;

  /**
   * Expiries in ms; `now` is the wall clock (a ManualClock's in tests), `monotonic` a clock that
   * never steps (default `performance.now`), `userRecheckMs` default {@link USER_RECHECK_MS}.
   */
  constructor(
    options: {
      idleMs: number;
      maxMs: number;
      now: () => number;
      monotonic?: () => number;
      userRecheckMs?: number;
    },
  ) {
    this.idleMs = options.idleMs;
    this.maxMs = options.maxMs;
    this.userRecheckMs = options.userRecheckMs ?? USER_RECHECK_MS;
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
    this.#sessions.set(session.id, {
      session,
      createdMono: mono,
      lastSeenMono: mono,
      checkedMono: mono,
      checkedAt: now,
    });
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

  /**
   * Whether the user of a live KV user's session is due a re-read from KV: {@link userRecheckMs}
   * since the last one on either clock (or the wall clock stepped back). When it is, the check is
   * claimed: requests meanwhile go on with what the last read said, for at most that long again.
   */
  claimUserCheck(session: Session): boolean {
    const held = this.#sessions.get(session.id);
    if (!held || held.session !== session || !session.principal.kvIdentity) return false;
    const now = this.#now();
    const mono = this.#monotonic();
    if (
      mono - held.checkedMono < this.userRecheckMs && now - held.checkedAt < this.userRecheckMs &&
      now >= held.checkedAt
    ) return false;
    held.checkedMono = mono;
    held.checkedAt = now;
    return true;
  }

  /**
   * Records a re-read of the session's user: its role from now on is `role` (what KV holds).
   * Returns the role it had when that changed.
   */
  userChecked(session: Session, role: Role): Role | undefined {
    const held = this.#sessions.get(session.id);
    if (held) {
      held.checkedMono = this.#monotonic();
      held.checkedAt = this.#now();
    }
    const before = session.principal.role;
    if (before === role) return undefined;
    session.principal = { ...session.principal, role };
    return before;
  }

  /** Ends a session (sign-out). */
  end(id: string): void {
    this.#sessions.delete(id);
  }

  /**
   * Ends a session because its user is gone; the next request with its cookie learns why
   * ({@link takeEnded}).
   */
  revoke(id: string, ended: Ended): void {
    if (!this.#sessions.delete(id)) return;
    if (this.#ended.size >= MAX_SESSIONS) {
      const oldest = this.#ended.keys().next().value;
      if (oldest !== undefined) this.#ended.delete(oldest);
    }
    this.#ended.set(id, { ...ended, mono: this.#monotonic() });
  }

  /** Why the session `id` was revoked (told once; forgotten after the idle expiry), if it was. */
  takeEnded(id: string | undefined): Ended | undefined {
    if (!id) return undefined;
    const ended = this.#ended.get(id);
    if (!ended) return undefined;
    this.#ended.delete(id);
    if (this.#monotonic() - ended.mono >= this.idleMs) return undefined;
    return { user: ended.user, reason: ended.reason };
  }

  /**
   * Ends every session of a KV user (deleted by an admin, or `re-created`: then the sessions of
   * the new user, `except` its identity, stay); the admin token's and a configured user's are not
   * that user's. Returns how many ended.
   */
  endUser(name: string, reason: EndedReason = "deleted", except?: string): number {
    let ended = 0;
    for (const [id, { session: s }] of this.#sessions) {
      const identity = s.principal.kvIdentity;
      if (
        s.principal.name === name && !s.principal.adminToken && identity &&
        !(except !== undefined && sameString(identity, except))
      ) {
        this.revoke(id, { user: name, reason });
        ended++;
      }
    }
    return ended;
  }
}
