/** Feeding a destination actor's queue in tests the way the engine does: accept, then route. */

import type { AcceptRequest, Delivery, Store } from "../../actors/store/store.ts";

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
