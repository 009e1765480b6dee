/**
 * Delivering one message to an HTTPS destination: a `POST` of the payload with the
 * `verification-token` header and the destination's credentials. `2xx` is success; any other
 * status, a timeout or a network error is a failure whose reason holds the status and a bounded,
 * redacted snippet of the answer. A `401` drops the cached token so the next attempt fetches a new
 * one. A production destination gets nothing until it has been verified.
 *
 * Each `POST` names its delivery (`x-engine-delivery-id`, `x-engine-message-id`,
 * `x-engine-attempt`; see post_headers.ts). The attempt number is one more than the attempts the
 * SEND log counts (read from KV before each attempt, with {@link HttpsDelivererOptions.logs}), and
 * never less than one more than this deliverer's previous attempt at the same log (an attempt cut
 * short by a stop is not counted in the log).
 * @module
 */

import type { Deliverer, DeliveryJob, DeliveryOutcome } from "../delivery/deliverer.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import { CredentialError, type CredentialStrategy, type HttpsConfig } from "./credentials/mod.ts";
import { describeResponse, type HttpSender, HttpSendError } from "./http_client.ts";
import { redact, secretValues } from "./redact.ts";
import { type DeliveryIds, postHeaders } from "./post_headers.ts";
import { deliveryBody } from "./request_body.ts";
import { wireBody } from "./large_body.ts";
import { describeFhirFailure, fhirTarget, processMessageFailure } from "./fhir_answer.ts";
import { isVerifiedFor, type VerificationStore } from "../store/verifications.ts";
import type { LogRecord } from "../store/types.ts";

/** Where a deliverer reads a SEND log's attempt count (the store). */
export interface AttemptLogs {
  /** The log `id`, or null when it is missing. */
  getLog(id: string): Promise<Pick<LogRecord, "attemptCount"> | null>;
}

/** What an {@link HttpsDeliverer} is made of. */
export interface HttpsDelivererOptions {
  destinationId: string;
  https: HttpsConfig;
  credentials: CredentialStrategy;
  sender: HttpSender;
  /** True for a production destination: nothing is sent before a successful verification. */
  requireVerification: boolean;
  verifications: VerificationStore;
  clock: Clock;
  log: Logger;
  /** Charset of unlabelled non-UTF-8 HL7 (config `limits.fallbackCharset`), default windows-1252. */
  fallbackCharset?: string;
  /** Characters of the answer kept in an attempt's reason, default 256. */
  snippetChars?: number;
  /**
   * The SEND logs, for `x-engine-attempt` (the engine's store). Without them the attempt is
   * counted by this deliverer alone: 1 again after a restart.
   */
  logs?: AttemptLogs;
}

/** A verified state is read again from KV after this long (another process may re-verify). */
const VERIFIED_RECHECK_MS = 10_000;
/** Enough bytes for a 256-character snippet of any UTF-8 text. */
const MAX_ANSWER_BYTES = 4096;
/** A FHIR server's OperationOutcome or `$process-message` answer is read whole up to this. */
const MAX_FHIR_ANSWER_BYTES = 256 * 1024;

/** See the module doc. */
export class HttpsDeliverer implements Deliverer {
  readonly #options: HttpsDelivererOptions;
  /** Until when a successful KV read of the verification holds. */
  #verifiedUntil = -Infinity;
  /** The verification as last read from KV: undefined before the first attempt. */
  #verification: { verified: boolean; at?: number } | undefined;
  #last: { status?: number; at: number; outcome: string } | undefined;
  /** The log of the latest attempt and its number. */
  #tried: { logId: string; attempt: number } | undefined;

  /** A deliverer to `options.https.url`. */
  constructor(options: HttpsDelivererOptions) {
    this.#options = options;
  }

  /** One attempt; see the module doc. */
  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const { https, credentials, sender, clock, log, destinationId } = this.#options;
    // Only production destinations read their verification (from KV, now and then).
    if (this.#options.requireVerification && !(await this.#verified())) {
      return this.#fail(
        `destination ${destinationId} is not verified ` +
          `(POST /admin/destinations/${destinationId}/verify)`,
      );
    }
    job.setState("sending");
    let made;
    let delivery: DeliveryIds;
    try {
      // The log is read while a large HL7v2 body is decoded.
      [made, delivery] = await Promise.all([
        deliveryBody(job.record, job.payload, this.#options.fallbackCharset, job.signal),
        this.#ids(job),
      ]);
    } catch (error) {
      if (job.signal.aborted) return { ok: false, reason: "aborted" };
      throw error;
    }
    const { contentType, body } = made;
    // A FHIR server: `url` is its base; the bundle kind says where it goes.
    const fhir = https.fhir;
    const url = fhir ? fhirTarget(https.url, fhir.bundle) : https.url;
    let sent: Record<string, string>;
    try {
      sent = await postHeaders({
        https,
        credentials,
        contentType,
        body,
        delivery,
        signal: job.signal,
        ...(fhir ? { url, headers: { accept: "application/fhir+json" } } : {}),
      });
    } catch (error) {
      if (job.signal.aborted) return { ok: false, reason: "aborted" };
      if (error instanceof CredentialError) return this.#fail(`credentials: ${error.message}`);
      throw error;
    }
    // A large body goes as a Blob of the same bytes, sent a part at a time (see large_body.ts).
    let wire;
    try {
      wire = await wireBody(body, job.signal);
    } catch (error) {
      if (job.signal.aborted) return { ok: false, reason: "aborted" };
      throw error;
    }
    job.setState("awaiting-ack");
    let response;
    try {
      response = await sender.send({
        url,
        method: "POST",
        headers: sent,
        body: wire,
        timeoutMs: https.timeoutSeconds * 1000,
        signal: job.signal,
        maxBodyBytes: fhir ? MAX_FHIR_ANSWER_BYTES : MAX_ANSWER_BYTES,
        // `$process-message` may answer 200 with an error in its MessageHeader.
        discardSuccessBody: fhir?.bundle !== "message",
      });
    } catch (error) {
      if (error instanceof HttpSendError) {
        return error.kind === "aborted"
          ? { ok: false, reason: "aborted" }
          : this.#fail(error.message);
      }
      throw error;
    }
    const ok = response.status >= 200 && response.status < 300;
    const refused = ok && fhir?.bundle === "message" ? processMessageFailure(response) : undefined;
    if (refused !== undefined) return this.#fail(redact(refused, secretValues(sent)), 200);
    if (ok) {
      this.#last = { status: response.status, at: clock.now(), outcome: "succeeded" };
      return { ok: true, detail: `HTTP ${response.status}` };
    }
    const answer = redact(
      (fhir ? describeFhirFailure(response) : undefined) ??
        describeResponse(response, this.#options.snippetChars ?? 256),
      secretValues(sent),
    );
    if (response.status === 401) {
      // The token may have been revoked or expired early: the next attempt gets a new one.
      credentials.invalidate();
      log.info("https.unauthorized", { destination: destinationId, auth: credentials.type });
    }
    return this.#fail(answer, response.status);
  }

  /** Nothing to release: connections belong to the sender's pool. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** URL, auth type, token expiry (never the token), verification and the last answer. */
  detail(): Record<string, unknown> {
    const { https, credentials, requireVerification } = this.#options;
    const info = credentials.info();
    return {
      url: https.url,
      ...(https.fhir ? { fhir: https.fhir.bundle } : {}),
      auth: info.type,
      ...(info.tokenExpiresAt !== undefined ? { tokenExpiresAt: info.tokenExpiresAt } : {}),
      ...(info.tokenRefreshAt !== undefined ? { tokenRefreshAt: info.tokenRefreshAt } : {}),
      verificationRequired: requireVerification,
      // As of the latest attempt; GET /admin/destinations reads it from KV.
      ...(requireVerification && this.#verification
        ? { verified: this.#verification.verified }
        : {}),
      ...(this.#verification?.at !== undefined ? { verifiedAt: this.#verification.at } : {}),
      ...(this.#last?.status !== undefined ? { lastStatus: this.#last.status } : {}),
      ...(this.#last ? { lastOutcome: this.#last.outcome, lastAt: this.#last.at } : {}),
    };
  }

  /** The ids this attempt at `job` is sent with (see the module doc). */
  async #ids(job: DeliveryJob): Promise<DeliveryIds> {
    const { logId, messageId, originalId } = job.head.entry;
    // Known to the actor for a message routed in memory: read only after a failed attempt or a
    // restart.
    const log = job.log ?? (this.#options.logs ? await this.#options.logs.getLog(logId) : null);
    const previous = this.#tried?.logId === logId ? this.#tried.attempt : 0;
    const attempt = Math.max((log?.attemptCount ?? 0) + 1, previous + 1);
    this.#tried = { logId, attempt };
    // The SEND log's messageId: the original, also when the payload is a translation of it.
    return { deliveryId: logId, messageId: originalId ?? messageId, attempt };
  }

  #fail(reason: string, status?: number): DeliveryOutcome {
    this.#last = {
      ...(status !== undefined ? { status } : {}),
      at: this.#options.clock.now(),
      outcome: reason,
    };
    return { ok: false, reason };
  }

  /** True when the latest verification succeeded for this URL. */
  async #verified(): Promise<boolean> {
    const { verifications, destinationId, https, clock } = this.#options;
    // The recheck period on the monotonic clock: a wall-clock step back must not stretch it.
    const mono = clock.monotonic();
    if (mono < this.#verifiedUntil) return true;
    const record = await verifications.get(destinationId);
    if (isVerifiedFor(record, https.url)) {
      this.#verifiedUntil = mono + VERIFIED_RECHECK_MS;
      this.#verification = {
        verified: true,
        at: record?.verifiedAt ?? record?.checkedAt ?? clock.now(),
      };
      return true;
    }
    this.#verifiedUntil = -Infinity;
    this.#verification = { verified: false };
    return false;
  }
}
