/**
 * HTTPS destinations: one delivery actor each (`https:<destinationId>`), credential strategies,
 * destination verification. No sockets here: requests go through the {@link HttpSender} that
 * `main.ts` injects from `transports/https/`.
 * @module
 */

export {
  bodySnippet,
  DEFAULT_MAX_BODY_BYTES,
  describeResponse,
  type HttpRequest,
  type HttpResponse,
  type HttpSender,
  HttpSendError,
  type HttpSendErrorKind,
} from "./http_client.ts";
export * from "./credentials/mod.ts";
export {
  httpsQuery,
  type HttpsQueryRequest,
  type HttpsQueryResult,
  type HttpsQueryTarget,
} from "./query.ts";
export { type AttemptLogs, HttpsDeliverer, type HttpsDelivererOptions } from "./https_deliverer.ts";
export {
  ATTEMPT_HEADER,
  DELIVERY_ID_HEADER,
  deliveryHeaders,
  type DeliveryIds,
  MESSAGE_ID_HEADER,
} from "./post_headers.ts";
export {
  type DestinationView,
  HttpsDestinations,
  type HttpsDestinationsOptions,
} from "./https_destinations.ts";
export { type DeliveryBody, deliveryBody } from "./request_body.ts";
export { redact, secretValues } from "./redact.ts";
export {
  isVerifiedFor,
  verificationKey,
  type VerificationRecord,
  VerificationStore,
} from "../store/verifications.ts";
export { verifyDestination, type VerifyOptions, type VerifyResult } from "./verification.ts";
