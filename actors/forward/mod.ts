/**
 * Agent mode (engine-to-engine store-and-forward over HTTPS): the `forward` destination's
 * deliverer on the site and the inbox of `POST /forward` on the central engine.
 * @module
 */

export {
  ForwardDeliverer,
  type ForwardDelivererOptions,
  type ForwardSettings,
  forwardUrl,
} from "./forward_deliverer.ts";
export {
  ForwardInbox,
  type ForwardInboxOptions,
  type ForwardInboxPort,
  forwardQueueId,
  type ForwardRequest,
  type ForwardResult,
} from "./forward_inbox.ts";
