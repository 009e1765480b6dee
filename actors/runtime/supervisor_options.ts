/**
 * The shapes of supervision (see `supervisor.ts`): what a supervisor is given, one running
 * activation of an actor as its parts share it, and a problem as `/healthz` shows it.
 * Types only: `supervisor.ts` re-exports the public ones.
 * @module
 */

import type { Actor } from "./actor.ts";
import type { Clock } from "./clock.ts";
import type { Cluster } from "./cluster.ts";
import type { Leases } from "../store/leases.ts";
import type { Logger } from "./log.ts";
import type { Store } from "../store/store.ts";

/** Makes the actor for an identity, or `undefined` if the identity is unknown. */
export type ActorFactory = (id: string) => Actor | undefined;

/** What the supervisor needs. */
export interface SupervisorOptions {
  store: Store;
  factory: ActorFactory;
  log: Logger;
  /** Every identity the config defines (shown by inspection even while inactive). */
  knownIds?: () => Iterable<string>;
  leases?: Leases;
  /**
   * Scale-out: the live nodes and which one each actor belongs to. An actor is activated only on
   * its node; when nodes come or go, actors that belong elsewhere now are handed over (the
   * message in flight finishes, then the lease is released).
   */
  cluster?: Cluster;
  /** Actors with no queue to be activated by (SFTP pollers): kept active on their node. */
  alwaysOn?: () => Iterable<string>;
  clock?: Clock;
  /**
   * The clock the lease loops (renewal, fencing, membership) sleep on and time with: it must be
   * the one the leases age on (their `elapsed`); the system clock by default, whatever
   * {@link clock} the actors are given.
   */
  leaseClock?: Clock;
  /**
   * How long a queue with entries may go without any live node serving it (no running node's
   * config can build its actor: see `Cluster.served`) before `cluster.actor-unserved` is
   * warned, default 10 s (a node restarting, a destination's queue being moved).
   */
  unservedGraceMs?: number;
  /** How often to look for queues written by other processes, default 1 s; 0 disables. */
  pollMs?: number;
  /** Restart backoff bounds in ms, default 100 ms doubling to 30 s. */
  restartBaseMs?: number;
  restartMaxMs?: number;
}

/** One running activation of an actor, as the supervisor and its helpers see it. */
export interface Activation {
  /** The running instance (a fresh one after each crash). */
  actor: Actor;
  /** Aborted to stop it. */
  abort: AbortController;
  /** Resolves once it has stopped and its lease is released. */
  done: Promise<void>;
  /** Restarts of this identity since the process started. */
  restarts: number;
  /** The message of its last crash. */
  lastCrash?: string;
  /** Crashes in a row; reset by a run that lasts. */
  crashes: number;
  /** Set while the actor waits for KV to take writes again (not a crash of its own). */
  waitingForStorage: boolean;
  /** Belongs to another node now: stops once its message in flight is done. */
  handingOver: boolean;
  /** A message is on the wire (between `Supervisor.beginSend` and `endSend`). */
  sending: boolean;
  /** The lease this activation took: released at its end only if still the one held. */
  leaseToken?: string;
}

/** An actor that is not running as it should, for `/healthz`. */
export interface SupervisionProblem {
  actor: string;
  /** Crashes in a row. */
  crashes: number;
  reason: string;
}
