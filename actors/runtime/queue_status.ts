/**
 * The part of an actor's status that comes from its KV queue and pause state, shared by every
 * queue-backed actor.
 *
 * The oldest message's age: its wall-clock age when this process first saw it at the head of the
 * queue, plus the monotonic time elapsed since (when the caller gives `mono`). A wall-clock step
 * after that sight then neither freezes the age at 0 (a step back) nor makes it jump by the step
 * (a step forward). An entry first seen with an enqueue time in the future (the clock had been
 * stepped back before that sight, e.g. across a restart) has no knowable age: it is counted from
 * that sight, a lower bound rather than a silent 0. Without `mono`, the wall-clock age (at least 0).
 * @module
 */

import type { ActorState, ActorStatus } from "./actor.ts";
import type { QueueHead, QueueLook, Store } from "../store/store.ts";
import type { ActorControl } from "../store/types.ts";

/** What {@link queueStatus} reads from. */
export interface QueueStatusInput {
  id: string;
  kind: string;
  state: ActorState;
  store: Store;
  /** Wall-clock now. */
  now: number;
  /** The clock's monotonic reading now: ages are then measured on it (see the module doc). */
  mono?: number;
  /** The actor's pause state if it has it in memory; read from KV otherwise. */
  control?: ActorControl;
}

/** Queue depth, oldest message age and pause state, plus the head for kind-specific fields. */
export async function queueStatus(
  input: QueueStatusInput,
): Promise<{ status: ActorStatus; head?: QueueHead }> {
  const { id, store } = input;
  const [depth, head, control] = await Promise.all([
    store.depth(id),
    // A look, not the actor's read: an unreadable head stays where it is, shown as such.
    store.look(id),
    input.control ?? store.getControl(id),
  ]);
  const status: ActorStatus = { id, kind: input.kind, state: input.state, queueDepth: depth };
  if (head) status.oldestAgeMs = ageOf(input, head);
  if (head?.unreadable) {
    status.unreadableHead = { seq: head.entry.seq, reason: head.unreadable.reason };
  }
  if (control.paused) {
    status.paused = {
      ...(control.by ? { by: control.by } : {}),
      ...(control.reason ? { reason: control.reason } : {}),
      ...(control.at ? { at: control.at } : {}),
    };
  }
  return head && !head.unreadable ? { status, head } : { status };
}

/** A skip's answer when the head it moved aside was an unreadable entry (`Store.look`). */
export function unreadableSkipped(head: QueueLook): string {
  return `unreadable entry ${head.entry.seq} (${head.unreadable?.reason}) moved to the ` +
    "dead-letter list";
}

/** Where and when this process first saw an actor's head entry. */
interface Sight {
  seq: string;
  enqueuedAt: number;
  /** The wall-clock age then, at least 0. */
  age: number;
  mono: number;
}

/** Per store (tests run several in one process), per actor: the head as first seen. */
const sights = new WeakMap<Store, Map<string, Sight>>();

/** The head's age in ms: see the module doc. */
function ageOf(input: QueueStatusInput, head: QueueHead): number {
  const { enqueuedAt, seq } = head.entry;
  const wallAge = Math.max(0, input.now - enqueuedAt);
  if (input.mono === undefined) return wallAge;
  let byActor = sights.get(input.store);
  if (!byActor) sights.set(input.store, byActor = new Map());
  let sight = byActor.get(input.id);
  if (!sight || sight.seq !== seq || sight.enqueuedAt !== enqueuedAt) {
    sight = { seq, enqueuedAt, age: wallAge, mono: input.mono };
    byActor.set(input.id, sight);
  }
  // Whole milliseconds: the monotonic clock has fractions no reader wants to see.
  return Math.round(sight.age + Math.max(0, input.mono - sight.mono));
}
