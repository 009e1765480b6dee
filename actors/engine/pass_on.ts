/**
 * What an accept routed, passed on to the destinations' actors: each entry whose message the
 * commit stored is handed over in memory, so the actor need not read it back from KV; the actor
 * of any other delivery is woken to read its queue.
 * @module
 */

import type { Delivery, QueueItem } from "../store/mod.ts";

/** Where routed entries go: the supervisor's hand-over and wake. */
export interface PassOnTargets {
  /** Wakes a destination actor, which reads its queue from KV. */
  notify(actorId: string): void;
  /** Gives entries to a destination actor in memory (it is woken instead when not running). */
  handOver?(actorId: string, items: readonly QueueItem[]): void;
}

/**
 * Hands each item of `routed` to its queue's actor, and wakes the actor of every delivery that
 * has no item there (or all of them, without `handOver`).
 *
 * @example
 * ```ts ignore
 * const result = await store.accept({ ...request, deliveries, derived });
 * if (result.status === "stored") passOn(result.routed, deliveries, supervisor);
 * ```
 */
export function passOn(
  routed: readonly QueueItem[] | undefined,
  deliveries: readonly Delivery[],
  to: PassOnTargets,
): void {
  const items = to.handOver ? routed ?? [] : [];
  for (const item of items) to.handOver!(item.head.queue, [item]);
  if (items.length === deliveries.length) return;
  // Some entries send a message stored before the accept: count what each queue still misses.
  const missing = new Map<string, number>();
  for (const d of deliveries) missing.set(d.queue, (missing.get(d.queue) ?? 0) + 1);
  for (const item of items) missing.set(item.head.queue, missing.get(item.head.queue)! - 1);
  for (const [queue, n] of missing) if (n > 0) to.notify(queue);
}
