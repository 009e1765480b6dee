/** Feeding a destination actor's queue in tests the way the engine does: accept, then route. */

import type { AcceptRequest, Delivery, Store } from "../../actors/store/store.ts";
import { adt } from "./net.ts";

/** The queue messages are accepted into before they are routed on. */
export const TEST_INBOUND_QUEUE = "in:test";

/**
 * Accepts `message` into {@link TEST_INBOUND_QUEUE} and routes it to `delivery.queue` in one
 * step, as the inbound actor would; returns the message id and the SEND log id.
 */
export async function acceptAndRoute(
  store: Store,
  message: Omit<AcceptRequest, "queue">,
  delivery: Pick<Delivery, "queue" | "destinationId" | "log">,
  name: string,
): Promise<{ messageId: string; logId: string }> {
  const accepted = await store.accept({ queue: TEST_INBOUND_QUEUE, ...message });
  if (accepted.status !== "stored") throw new Error(`not stored: ${name}`);
  const [head] = await store.peek(TEST_INBOUND_QUEUE);
  if (!head || head.entry.messageId !== accepted.messageId) {
    throw new Error("the inbound test queue is out of step");
  }
  const routed = await store.route(head, [{
    ...delivery,
    messageId: accepted.messageId,
    originalId: accepted.messageId,
  }], { status: "SUCCEEDED" });
  if (!routed) throw new Error(`not routed: ${name}`);
  const send = (await store.logsOfMessage(accepted.messageId)).find((l) => l.type === "SEND");
  if (!send) throw new Error(`no SEND log for ${name}`);
  return { messageId: accepted.messageId, logId: send.id };
}

/**
 * Accepts an ADT^A01 with MSH-10 `controlId` (or `options.payload` as it is, stored under that
 * control id) from integration `feed` and routes it to `queue` for destination `ehr`, as
 * {@link acceptAndRoute} does; returns its message and SEND log ids.
 */
export function enqueueAdt(
  store: Store,
  queue: string,
  controlId: string,
  options: { payload?: string; name?: string } = {},
): Promise<{ messageId: string; logId: string }> {
  return acceptAndRoute(store, {
    origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
    payload: new TextEncoder().encode(options.payload ?? adt(controlId)),
    contentType: "application/hl7-v2",
    controlId,
    messageType: "ADT^A01",
    log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
  }, {
    queue,
    destinationId: "ehr",
    log: { environment: "dev", integrationId: "feed", controlId },
  }, options.name ?? controlId);
}

/**
 * Counts, from now on, the lists `store` makes of the queues `counted` selects (each `peek` is one
 * KV list of a queue); returns a function giving the count so far.
 */
export function countPeeks(store: Store, counted: (queue: string) => boolean): () => number {
  let peeks = 0;
  const peek = store.peek.bind(store);
  store.peek = (queue, limit, after) => {
    if (counted(queue)) peeks++;
    return peek(queue, limit, after);
  };
  return () => peeks;
}
