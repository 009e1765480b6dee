/**
 * The headers of every `POST` to an HTTPS destination (a delivery or a query): the content type,
 * `verification-token`, a delivery's ids (below), and what the credential strategy adds (a bearer
 * token, a signature over all of it).
 *
 * A delivery (not a query, a FHIR search or a verification) names itself, so that a receiver can
 * tell a resend from a new message (delivery is at least once):
 * - `x-engine-delivery-id`: the SEND log's id, one per message and destination; the same on every
 *   attempt and every resend of that delivery (a retry, a resend after a crash, a reprocess from
 *   the dead letters), different for any other. The key a receiver deduplicates by.
 * - `x-engine-message-id`: the id of the message as the engine received it (the SEND log's
 *   `messageId`, `Meta.Message.ID` of a `POST /endpoint` answer), also when the body is a
 *   translation of it (JSON or FHIR made from HL7v2) or a modified copy: the same for every
 *   destination the message goes to.
 * - `x-engine-attempt`: `1`, `2`, … the attempt of this delivery, counted from its log's attempts
 *   (a resend after a crash may repeat the number of the attempt it repeats): for information,
 *   not a key.
 * They are given to the credential strategy with the other headers, so `aws-sigv4` signs them.
 * @module
 */

import type { CredentialStrategy, HttpsConfig } from "./credentials/mod.ts";

/** The header naming a delivery (the SEND log id). */
export const DELIVERY_ID_HEADER = "x-engine-delivery-id";
/** The header naming the message delivered (the original's id). */
export const MESSAGE_ID_HEADER = "x-engine-message-id";
/** The header numbering the attempt of a delivery (1-based). */
export const ATTEMPT_HEADER = "x-engine-attempt";

/** What names one attempt of a delivery. */
export interface DeliveryIds {
  /** The SEND log id. */
  deliveryId: string;
  /** The message's id as received (the original, when the payload is a translation). */
  messageId: string;
  /** 1-based. */
  attempt: number;
}

/** What {@link postHeaders} signs. */
export interface PostOptions {
  https: HttpsConfig;
  credentials: CredentialStrategy;
  contentType: string;
  body: Uint8Array;
  /** Where the request goes, when not `https.url` (a FHIR server's `$process-message`). */
  url?: string;
  /** `GET` for a FHIR search (no body, no content type). Default `POST`. */
  method?: "POST" | "GET";
  /** Extra headers, signed with the rest (`accept`). */
  headers?: Record<string, string>;
  /** A delivery's ids, sent (and signed) as the `x-engine-*` headers; absent for a query. */
  delivery?: DeliveryIds;
  /** Aborts a token request made on the way. */
  signal?: AbortSignal;
}

/** The `x-engine-*` headers of one attempt of a delivery. */
export function deliveryHeaders(ids: DeliveryIds): Record<string, string> {
  return {
    [DELIVERY_ID_HEADER]: ids.deliveryId,
    [MESSAGE_ID_HEADER]: ids.messageId,
    [ATTEMPT_HEADER]: String(ids.attempt),
  };
}

/**
 * Every header of the request (lower-case names).
 * @throws {CredentialError} when the credentials cannot be had.
 */
export async function postHeaders(options: PostOptions): Promise<Record<string, string>> {
  const { https, credentials, body } = options;
  const method = options.method ?? "POST";
  const headers: Record<string, string> = {
    ...options.headers,
    ...(method === "POST" ? { "content-type": options.contentType } : {}),
    ...(options.delivery ? deliveryHeaders(options.delivery) : {}),
    "verification-token": https.verificationToken.reveal(),
  };
  const auth = await credentials.apply({
    method,
    url: options.url ?? https.url,
    headers,
    body,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...headers, ...auth };
}
