/**
 * Queues no live node serves, as the admin API, the console and `/metrics` show them: a queue
 * with entries whose actor no running node's config can build has no actor anywhere, so it is in
 * no actor list; the supervisor keeps the set its last restore round saw (the runtime's
 * `Supervisor.unserved`, the same look that logs `cluster.actor-unserved`).
 * @module
 */

import type { AdminSupervisor } from "../../actors/ports.ts";

/** One unserved queue (the runtime's `UnservedQueue`); `since` becomes ISO 8601 in answers. */
export interface UnservedQueueView {
  /** The actor (queue) id. */
  actor: string;
  /** Entries waiting in it at the supervisor's last look. */
  queued: number;
  /** When it was first seen unserved (ms since the epoch). */
  since: number;
  /** How long it has been unserved, in ms. */
  forMs: number;
  /** Unserved longer than the grace (a node restarting is not reported as stuck). */
  pastGrace: boolean;
  /** `cluster.actor-unserved` was logged for it. */
  warned: boolean;
  /** Why its messages wait (the log line's `reason`). */
  reason: string;
  /** What to do about it (the log line's `hint`). */
  hint: string;
}

/** What lists the unserved queues (the runtime's `Supervisor`). */
export interface UnservedSource {
  /** Queues with entries no live node serves, as the last restore round saw them. */
  unserved(): readonly UnservedQueueView[];
}

/** The supervisor as the admin API and the console read it: unserved queues when it lists them. */
export type ListingSupervisor = AdminSupervisor & Partial<UnservedSource>;

/** The unserved queues `supervisor` lists; none when it does not list them. */
export function unservedOf(supervisor: Partial<UnservedSource>): UnservedQueueView[] {
  return [...(supervisor.unserved?.() ?? [])];
}
