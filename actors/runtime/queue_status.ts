/**
 * The part of an actor's status that comes from its KV queue and pause state, shared by every
 * queue-backed actor.
 * @module
 */

import type { ActorState, ActorStatus } from "./actor.ts";
import type { QueueHead, Store } from "../store/store.ts";
import type { ActorControl } from "../store/types.ts";

/** What {@link queueStatus} reads from. */
export interface QueueStatusInput {
  id: string;
  kind: string;
  state: ActorState;
  store: Store;
  now: number;
  /** The actor's pause state if it has it in memory; read from KV otherwise. */
  control?: ActorControl;
}

/** Queue depth, oldest message age and pause state, plus the head for kind-specific fields. */
export async function queueStatus(
  input: QueueStatusInput,
): Promise<{ status: ActorStatus; head?: QueueHead }> {
  const { id, store } = input;
  const [depth, [head], control] = await Promise.all([
    store.depth(id),
    store.peek(id),
    input.control ?? store.getControl(id),
  ]);
  const status: ActorStatus = { id, kind: input.kind, state: input.state, queueDepth: depth };
  if (head) status.oldestAgeMs = Math.max(0, input.now - head.entry.enqueuedAt);
  if (control.paused) {
    status.paused = {
      ...(control.by ? { by: control.by } : {}),
      ...(control.reason ? { reason: control.reason } : {}),
      ...(control.at ? { at: control.at } : {}),
    };
  }
  return head ? { status, head } : { status };
}
