/**
 * Queues no live node serves, as the admin API, the console and `/metrics` show them: a queue
 * with entries whose actor no running node's config can build has no actor anywhere, so it is in
 * no actor list; the supervisor keeps the set its last restore round saw (the runtime's
 * `Supervisor.unserved`, the same look that logs `cluster.actor-unserved`).
 * @module
 */

import type { AdminSupervisor, UnservedQueue } from "../../actors/ports.ts";

export type { UnservedQueue };

/** What lists the unserved queues (the runtime's `Supervisor`). */
export interface UnservedSource {
  /** Queues with entries no live node serves, as the last restore round saw them. */
  unserved(): readonly UnservedQueue[];
}

/** The supervisor as the admin API and the console read it: unserved queues when it lists them. */
export type ListingSupervisor = AdminSupervisor & Partial<UnservedSource>;

/** The unserved queues `supervisor` lists; none when it does not list them. */
export function unservedOf(supervisor: Partial<UnservedSource>): UnservedQueue[] {
  return [...(supervisor.unserved?.() ?? [])];
}
