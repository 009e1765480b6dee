/**
 * A deliverer that asks before each message goes on the wire whether its actor may still send
 * (scale-out fencing and handover): a node frozen past two thirds of its lease, or an actor
 * handed over to another node, sends nothing more — whatever order its timers fire in on waking.
 * @module
 */

import type { Deliverer, DeliveryJob, DeliveryOutcome } from "./deliverer.ts";

/** What the wrapper asks (the supervisor). */
export interface SendGate {
  /**
   * False when `id` may not send now (the actor is stopped). `onWire`: the message went out
   * already (sent ahead by its socket) and only its outcome is to be taken.
   */
  beginSend(id: string, options?: { onWire?: boolean }): boolean;
  /** The message allowed by `beginSend` is done. */
  endSend(id: string): void;
  /** Whether other live nodes share the KV (see {@link Deliverer.shared}); absent: never. */
  shared?(): boolean;
}

/** `inner` behind `gate` for actor `id`. */
export function fencedDeliverer(
  id: string,
  inner: Deliverer,
  gate: () => SendGate | undefined,
): Deliverer {
  /** An `endSend` put off while a message sent ahead is on the wire (the actor is "sending"). */
  let owed = false;
  const fenced: Deliverer = {
    async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
      const g = gate();
      const onWire = inner.sentAhead?.() === job.head.entry.seq;
      if (g && !g.beginSend(id, { onWire })) {
        owed = false;
        // The actor's signal is aborted by now: it records nothing and stops; nor does the socket
        // go on by itself.
        inner.hold?.();
        return { ok: false, reason: "this node may no longer deliver for this queue" };
      }
      try {
        return await inner.deliver(job);
      } finally {
        // Still sending while the socket went on with the next message by itself.
        owed = inner.sentAhead?.() !== undefined;
        if (!owed) g?.endSend(id);
      }
    },
    close: async () => {
      await inner.close();
      if (owed) gate()?.endSend(id);
      owed = false;
    },
  };
  if (inner.hold) fenced.hold = () => inner.hold!();
  if (inner.release) fenced.release = () => inner.release!();
  if (inner.sentAhead) fenced.sentAhead = () => inner.sentAhead!();
  fenced.shared = () => gate()?.shared?.() ?? false;
  if (inner.idle) fenced.idle = (now) => inner.idle!(now);
  if (inner.idleCloseAt) fenced.idleCloseAt = () => inner.idleCloseAt!();
  if (inner.holdsConnection) fenced.holdsConnection = () => inner.holdsConnection!();
  if (inner.detail) fenced.detail = () => inner.detail!();
  return fenced;
}
