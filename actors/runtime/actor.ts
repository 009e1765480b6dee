/**
 * What every actor is to the supervisor: an identity, a loop that runs while it is active, a way to
 * be woken, operator commands, and a status snapshot for the admin endpoint.
 * @module
 */

import type { QueueItem } from "../store/requests.ts";

/** The states shown to operators. */
export type ActorState =
  | "idle"
  | "connecting"
  | "sending"
  | "awaiting-ack"
  | "backoff"
  | "paused"
  | "processing"
  | "stopped";

/** An actor's status as the admin endpoint shows it. */
export interface ActorStatus {
  id: string;
  kind: string;
  state: ActorState;
  queueDepth: number;
  /** Age in ms of the oldest queued message, if any. */
  oldestAgeMs?: number;
  /**
   * The queue's first entry cannot be read (another version's, or damaged): its seq and why. The
   * actor sets it aside when it reads its queue; a skip sets it aside (not the message behind it).
   */
  unreadableHead?: { seq: string; reason: string };
  /**
   * The message being delivered, or the head waiting for its retry: its attempts recorded so far
   * and `since` when this activation began delivering it (its first attempt here, ms; kept across
   * its retries).
   */
  inFlight?: { messageId: string; logId: string; attempts: number; since?: number };
  nextRetryAt?: number;
  lastActivityAt?: number;
  lastError?: string;
  /** For actors with a connection: whether its socket is open. */
  socket?: "open" | "closed";
  paused?: { by?: string; reason?: string; at?: number };
  restarts?: number;
  /** Anything particular to the kind (e.g. the peer address). */
  detail?: Record<string, unknown>;
}

/** Operator commands. */
export type ActorCommand = "pause" | "resume" | "retry" | "skip";

/** The outcome of an operator command. */
export interface CommandResult {
  ok: boolean;
  message: string;
}

/** See {@link Actor.held}. */
export interface HeldCounts {
  /** Deliveries marked (their completion committed) since the hold. */
  marked: number;
  /** Deliveries that may have reached their destination and are not marked: sent again later. */
  unmarked: number;
}

/** An actor as the supervisor runs it. */
export interface Actor {
  readonly id: string;
  readonly kind: string;
  /**
   * Runs until `signal` aborts (resolve), the actor has been idle long enough to deactivate
   * (resolve), or it crashes (reject: the supervisor restarts it with backoff).
   */
  run(signal: AbortSignal): Promise<void>;
  /** New work may be waiting: wake up if sleeping. */
  notify(): void;
  /**
   * Entries just committed to this actor's queue, handed over in memory so it need not read them
   * back; actors without it are notified instead (they read KV).
   */
  take?(items: readonly QueueItem[]): void;
  /**
   * It is being stopped once its message in flight is done (a handover): nothing more may go out
   * on its own account meanwhile (a socket that sends ahead stops doing so).
   */
  hold?(): void;
  /**
   * What became of its deliveries since {@link hold} (read once it has stopped): how many it
   * marked delivered, and how many may have reached their destination without being marked (on
   * the wire when it was stopped, or their completion not committed).
   */
  held?(): HeldCounts;
  /** A snapshot for the admin endpoint. */
  status(): Promise<ActorStatus>;
  /** Carries out an operator command. */
  command(command: ActorCommand, by: string, reason: string): Promise<CommandResult>;
  /**
   * How many entries KV held in this actor's queue when the supervisor last read every queue's
   * depth (once a poll period): an actor that knows its queue in memory looks at KV only when it
   * holds more than that, instead of listing its queue every poll period on its own.
   */
  queueDepth?(depth: number): void;
}

/** The abort reason of a wake. */
const WOKEN = "woken";

/** Wakes a sleeping loop; a wake that comes while the loop is busy is remembered. */
export class Wakeup {
  #controller = new AbortController();

  /** Wakes the current wait, or the next one if none is under way. */
  wake(): void {
    // A given reason: the default one is a DOMException, built with a stack on every wake.
    this.#controller.abort(WOKEN);
  }

  /** The signal for the next wait: already aborted once if a wake came since the last wait. */
  signal(): AbortSignal {
    const signal = this.#controller.signal;
    if (signal.aborted) this.#controller = new AbortController();
    return signal;
  }
}
