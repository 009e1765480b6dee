/**
 * A deliverer that asks before each message goes on the wire whether its actor may still send
 * (scale-out fencing and handover): a node frozen past two thirds of its lease, or an actor
 * handed over to another node, sends nothing more — whatever order its timers fire in on waking.
 * @module
 */

import type { Deliverer, DeliveryJob, DeliveryOutcome } from "./deliverer.ts";

/** What the wrapper asks (the supervisor). */
export interface SendGate {
  /** False when `id` may not send now (the actor is stopped). */
  beginSend(id: string): boolean;
  /** The message allowed by `beginSend` is done. */
  endSend(id: string): void;
}

/** `inner` behind `gate` for actor `id`. */
export function fencedDeliverer(
  id: string,
  inner: Deliverer,
  gate: () => SendGate | undefined,
): Deliverer {
  const fenced: Deliverer = {
    async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
      const g = gate();
      if (g && !g.beginSend(id)) {
        // The actor's signal is aborted by now: it records nothing and stops.
        return { ok: false, reason: "this node may no longer deliver for this queue" };
      }
      try {
        return await inner.deliver(job);
      } finally {
        g?.endSend(id);
      }
    },
    close: () => inner.close(),
  };
  if (inner.idle) fenced.idle = (now) => inner.idle!(now);
  if (inner.holdsConnection) fenced.holdsConnection = () => inner.holdsConnection!();
  if (inner.detail) fenced.detail = () => inner.detail!();
  return fenced;
}
