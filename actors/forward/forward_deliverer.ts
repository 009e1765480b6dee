/**
 * Agent mode, the site's side: delivering one message to another engine's `POST /forward` with
 * its original bytes and content type, and its metadata in headers (message id, integration,
 * received time, control id, file name; see codecs/forward). It counts as delivered only on the
 * central engine's `200`, which it sends after its commit; anything else (another status, a
 * timeout, a network error, a `200` without a message id) is a failed attempt, retried by the
 * delivery actor. A retry of a message the central engine already stored is answered as a
 * duplicate, so a lost answer never duplicates a message.
 *
 * When the message's sender waits for an enhanced-mode application ACK, the request asks the
 * central engine to hold its answer for its application verdict (`forward-app-ack: wait=N`); the
 * verdict is handed to the waiting sender's connection ({@link AppAcks.settleFromPeer}), or, when
 * none came in time, the waiter is dropped and the reason logged.
 * @module
 */

import {
  FORWARD_HEADERS as H,
  FORWARD_PATH,
  parseForwardAnswer,
} from "../../codecs/forward/mod.ts";
import type { Deliverer, DeliveryJob, DeliveryOutcome } from "../delivery/deliverer.ts";
import type { AppAcks } from "../engine/app_acks.ts";
import { CredentialError, type CredentialStrategy } from "../https_out/credentials/mod.ts";
import { describeResponse, type HttpSender, HttpSendError } from "../https_out/http_client.ts";
import { redact, secretValues } from "../https_out/redact.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { MessageRecord } from "../store/types.ts";

/** A destination's `forward` settings. */
export interface ForwardSettings {
  url: string;
  timeoutSeconds: number;
  appAckWaitSeconds: number;
}

/** What a {@link ForwardDeliverer} is made of. */
export interface ForwardDelivererOptions {
  destinationId: string;
  forward: ForwardSettings;
  credentials: CredentialStrategy;
  sender: HttpSender;
  /** Reads the original of a translated payload (its integration and received time). */
  getMessage(id: string): Promise<MessageRecord | null>;
  /** Enhanced-mode application ACKs waiting for the central engine's verdict. */
  appAcks?: AppAcks;
  clock: Clock;
  log: Logger;
}

/** The central engine's answer is small. */
const MAX_ANSWER_BYTES = 16 * 1024;

/** `url` ending in `/forward`: a base URL gets the path appended. */
export function forwardUrl(url: string): string {
  const u = new URL(url);
  if (!u.pathname.endsWith(FORWARD_PATH)) {
    u.pathname = `${u.pathname.replace(/\/+$/, "")}${FORWARD_PATH}`;
  }
  return u.toString();
}

/** See the module doc. */
export class ForwardDeliverer implements Deliverer {
  readonly #options: ForwardDelivererOptions;
  readonly #url: string;
  #last: { status?: number; at: number; outcome: string; centralId?: string } | undefined;

  /** A deliverer to `options.forward.url`. */
  constructor(options: ForwardDelivererOptions) {
    this.#options = options;
    this.#url = forwardUrl(options.forward.url);
  }

  /** One attempt; see the module doc. */
  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const { credentials, sender, forward, appAcks, log, destinationId } = this.#options;
    const record = job.record;
    const originalId = job.head.entry.originalId ?? record.id;
    const original = record.derivedFrom
      ? (await this.#options.getMessage(record.derivedFrom)) ?? record
      : record;
    const wait = appAcks?.waiting(originalId) ? forward.appAckWaitSeconds : 0;
    const headers: Record<string, string> = {
      "content-type": record.contentType,
      accept: "application/json",
      [H.messageId]: record.id,
      [H.receivedAt]: new Date(original.receivedAt).toISOString(),
    };
    if (original.origin.kind === "integration") headers[H.integration] = original.origin.id;
    if (original.controlId) headers[H.controlId] = encodeURIComponent(original.controlId);
    if (original.fileName) headers[H.fileName] = encodeURIComponent(original.fileName);
    if (wait > 0) headers[H.appAck] = `wait=${wait}`;
    job.setState("sending");
    let sent: Record<string, string>;
    try {
      sent = {
        ...headers,
        ...await credentials.apply({
          method: "POST",
          url: this.#url,
          headers,
          body: job.payload,
          signal: job.signal,
        }),
      };
    } catch (error) {
      if (job.signal.aborted) return { ok: false, reason: "aborted" };
      if (error instanceof CredentialError) return this.#fail(`credentials: ${error.message}`);
      throw error;
    }
    job.setState("awaiting-ack");
    let response;
    try {
      response = await sender.send({
        url: this.#url,
        method: "POST",
        headers: sent,
        body: job.payload,
        timeoutMs: (forward.timeoutSeconds + wait) * 1000,
        signal: job.signal,
        maxBodyBytes: MAX_ANSWER_BYTES,
      });
    } catch (error) {
      if (error instanceof HttpSendError) {
        return error.kind === "aborted"
          ? { ok: false, reason: "aborted" }
          : this.#fail(error.message);
      }
      throw error;
    }
    if (response.status !== 200) {
      if (response.status === 401) {
        credentials.invalidate();
        log.info("forward.unauthorized", { destination: destinationId, auth: credentials.type });
      }
      return this.#fail(redact(describeResponse(response), secretValues(sent)), response.status);
    }
    const answer = parseForwardAnswer(response.body);
    if (typeof answer === "string") {
      // Maybe stored, maybe not: the retry is answered as a duplicate if it was.
      return this.#fail(`HTTP 200 but ${answer}`, 200);
    }
    if (wait > 0) {
      if (answer.appAck) {
        appAcks!.settleFromPeer(originalId, answer.appAck);
        log.info("forward.app-ack", {
          destination: destinationId,
          messageId: originalId,
          centralId: answer.messageId,
          code: answer.appAck.code,
          ...(answer.appAck.text ? { reason: answer.appAck.text } : {}),
        });
      } else {
        appAcks!.forget(originalId);
        log.warn("forward.app-ack-unavailable", {
          destination: destinationId,
          messageId: originalId,
          centralId: answer.messageId,
          reason: answer.duplicate
            ? "the central engine had stored this message before; its verdict is in its logs"
            : `no application verdict from the central engine within ${wait} s`,
        });
      }
    }
    const detail = `HTTP 200: central message ${answer.messageId}` +
      (answer.duplicate ? " (already stored)" : "") +
      (answer.appAck ? `; application ${answer.appAck.code}` : "");
    this.#last = {
      status: 200,
      at: this.#options.clock.now(),
      outcome: "succeeded",
      centralId: answer.messageId,
    };
    return { ok: true, detail };
  }

  /** Nothing to release: connections belong to the sender's pool. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** URL, auth type, token expiry (never the token) and the last answer. */
  detail(): Record<string, unknown> {
    const info = this.#options.credentials.info();
    return {
      url: this.#url,
      auth: info.type,
      ...(info.tokenExpiresAt !== undefined ? { tokenExpiresAt: info.tokenExpiresAt } : {}),
      ...(this.#last?.status !== undefined ? { lastStatus: this.#last.status } : {}),
      ...(this.#last ? { lastOutcome: this.#last.outcome, lastAt: this.#last.at } : {}),
      ...(this.#last?.centralId ? { lastCentralMessageId: this.#last.centralId } : {}),
    };
  }

  #fail(reason: string, status?: number): DeliveryOutcome {
    this.#last = {
      ...(status !== undefined ? { status } : {}),
      at: this.#options.clock.now(),
      outcome: reason,
    };
    return { ok: false, reason };
  }
}
