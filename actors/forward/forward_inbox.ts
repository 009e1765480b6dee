/**
 * Agent mode, the central engine's side: a message another engine forwards (`POST /forward`) is
 * stored for the integration its source is mapped to (config `integrations[].forward`), through
 * the same store path as MLLP intake: one group-committed accept with its RECEIVE log, in the
 * integration's inbound queue (`forward-in:<integrationId>`), whose inbound actor parses, routes
 * and delivers it like any message of that integration (HL7 v2 by its MSH, other content types
 * as files). It is deduplicated by (source, sender's message id): a retry after a lost answer is
 * answered with the first copy's id and stored once. The answer comes only after the commit.
 *
 * When the sender asks (`wait`), the answer is held until the application step's verdict (AA
 * once routed or filtered, AE when it cannot be read or mapped), at most that long.
 *
 * An HL7 v2 message over the planning thread's `offloadBytes` (32 KiB) is read (decoded by
 * MSH-18, parsed) there, as a large MLLP frame is (intake_offload.ts), and its inbound actor plans
 * it there too: only its MSH segment comes back here. A thread that fails while reading it fails
 * this request alone: `500 could not read the message: <why>`, nothing stored.
 * @module
 */

import type { ForwardVerdict } from "../../codecs/forward/mod.ts";
import type { Config, IntegrationConfig } from "../config/mod.ts";
import type { AppAcks, AppVerdict } from "../engine/app_acks.ts";
import { readIntake } from "../engine/intake_offload.ts";
import type { PlanThreads } from "../engine/plan_threads.ts";
import { errorMessage } from "../runtime/errors.ts";
import type { Logger } from "../runtime/log.ts";
import { StoreUnavailableError } from "../store/health.ts";
import type { Store } from "../store/store.ts";

/** The inbound queue (and actor identity) of forwarded messages of an integration. */
export function forwardQueueId(integrationId: string): string {
  return `forward-in:${integrationId}`;
}

/** One forwarded message as the HTTP route read it. */
export interface ForwardRequest {
  /** The source (API client) the access token was issued to. */
  sourceId: string;
  /** That source's environment, from the token. */
  environment: string;
  bytes: Uint8Array;
  contentType: string;
  /** The sending engine's message id (dedupe key with the source). */
  messageId: string;
  /** The sending engine's integration, when it said. */
  integration?: string;
  receivedAt?: string;
  controlId?: string;
  fileName?: string;
  peerIp: string;
  /** Hold the answer up to this long for the application verdict; 0 for none. */
  appAckWaitMs: number;
}

/** What to answer. */
export type ForwardResult =
  | { ok: true; messageId: string; duplicate: boolean; appAck?: ForwardVerdict }
  | { ok: false; status: 403 | 413 | 500 | 503; error: string };

/** Takes forwarded messages for the engine (the route's side of agent mode). */
export interface ForwardInboxPort {
  /** Stores one message; never rejects (failures are `{ok: false}`). */
  accept(request: ForwardRequest): Promise<ForwardResult>;
  /** Largest message accepted, bytes. */
  readonly maxBytes: number;
}

/** What the inbox needs. */
export interface ForwardInboxOptions {
  config: Config;
  store: Store;
  log: Logger;
  notify(queue: string): void;
  appAcks?: AppAcks;
  /**
   * Where an HL7 v2 message over its `offloadBytes` (32 KiB) is decoded and parsed, off the
   * engine's thread (the MLLP intake's read, intake_offload.ts); without it, every one is read here.
   */
  threads?: PlanThreads;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HL7 = "application/hl7-v2";

/** See the module doc. */
export class ForwardInbox implements ForwardInboxPort {
  readonly #options: ForwardInboxOptions;
  /** Largest message accepted (config `limits.maxHl7Bytes`). */
  readonly maxBytes: number;

  /** An inbox for the integrations of `options.config` that take forwarded messages. */
  constructor(options: ForwardInboxOptions) {
    this.#options = options;
    this.maxBytes = options.config.limits.maxHl7Bytes;
  }

  /** The integration a source's message goes to: the one naming its integration, else any. */
  integrationFor(sourceId: string, integration?: string): IntegrationConfig | undefined {
    const mapped = this.#options.config.integrations.filter((i) => i.forward?.source === sourceId);
    return mapped.find((i) => i.forward!.sourceIntegration === integration && integration) ??
      mapped.find((i) => i.forward!.sourceIntegration === undefined);
  }

  /** Stores one message; see the module doc. */
  async accept(request: ForwardRequest): Promise<ForwardResult> {
    const { store, log, config, appAcks } = this.#options;
    const where = { source: request.sourceId, peer: request.peerIp, id: request.messageId };
    const integration = this.integrationFor(request.sourceId, request.integration);
    if (!integration) {
      log.warn("forward.unmapped", { ...where, integration: request.integration ?? "" });
      return {
        ok: false,
        status: 403,
        error: `source ${request.sourceId} is mapped to no integration` +
          (request.integration ? ` for its integration ${request.integration}` : "") +
          " (config integrations[].forward.source)",
      };
    }
    if (integration.environment !== request.environment) {
      log.warn("forward.wrong-environment", { ...where, integration: integration.id });
      return {
        ok: false,
        status: 403,
        error: `source ${request.sourceId} is in environment ${request.environment}; integration ` +
          `${integration.id} is in ${integration.environment}`,
      };
    }
    if (request.bytes.length > this.maxBytes) {
      return {
        ok: false,
        status: 413,
        error: `the message is larger than the limit of ${this.maxBytes} bytes`,
      };
    }
    const hl7 = request.contentType.split(";")[0]!.trim().toLowerCase() === HL7;
    // Only its MSH is used: a message that does not parse is stored all the same (its inbound
    // actor says why it cannot be routed). A large one is read on the planning thread.
    const read = hl7
      ? await readIntake(this.#options.threads, request.bytes, config.limits.fallbackCharset)
      : undefined;
    if (read && "failed" in read) {
      return { ok: false, status: 500, error: `could not read the message: ${read.failed}` };
    }
    const msg = read?.ok ? read.message : undefined;
    const controlId = msg?.controlId || request.controlId;
    const messageType = msg
      ? [msg.messageType, msg.triggerEvent].filter(Boolean).join("^")
      : undefined;
    const queue = forwardQueueId(integration.id);
    // The id is chosen first so the verdict's waiter exists before the inbound actor can see it.
    const messageId = store.newId();
    const verdict = request.appAckWaitMs > 0 && appAcks
      ? appAcks.expect(messageId, (v) => encoder.encode(JSON.stringify(v)))
      : undefined;
    let result;
    try {
      result = await store.accept({
        messageId,
        queue,
        origin: {
          kind: "integration",
          id: integration.id,
          peer: `${request.sourceId}@${request.peerIp}`,
        },
        payload: request.bytes,
        contentType: hl7 ? HL7 : request.contentType,
        ...(controlId ? { controlId } : {}),
        ...(messageType ? { messageType } : {}),
        ...(request.fileName ? { fileName: request.fileName } : {}),
        dedupe: {
          scope: `forward:${request.sourceId}`,
          key: request.messageId,
          ack: "",
          windowMs: config.limits.dedupeWindowSeconds * 1000,
        },
        log: {
          type: "RECEIVE",
          integrationId: integration.id,
          environment: integration.environment,
        },
      });
    } catch (error) {
      appAcks?.forget(messageId);
      const unavailable = error instanceof StoreUnavailableError;
      log[unavailable ? "debug" : "error"]("forward.store-failed", {
        ...where,
        integration: integration.id,
        error,
      });
      return {
        ok: false,
        status: unavailable ? 503 : 500,
        error: `could not store the message: ${errorMessage(error)}`,
      };
    }
    if (result.status === "duplicate") {
      appAcks?.forget(messageId);
      log.info("forward.duplicate", {
        ...where,
        integration: integration.id,
        messageId: result.messageId,
      });
      return { ok: true, messageId: result.messageId, duplicate: true };
    }
    this.#options.notify(queue);
    log.debug("forward.accepted", { ...where, integration: integration.id, messageId });
    if (!verdict) return { ok: true, messageId, duplicate: false };
    const appAck = await within(verdict, request.appAckWaitMs);
    if (appAck === undefined) appAcks!.forget(messageId);
    return { ok: true, messageId, duplicate: false, ...(appAck ? { appAck } : {}) };
  }
}

/** The verdict, or undefined when none comes within `ms`. */
async function within(
  pending: Promise<Uint8Array | undefined>,
  ms: number,
): Promise<AppVerdict | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    const bytes = await Promise.race([pending, timeout]);
    return bytes ? JSON.parse(decoder.decode(bytes)) as AppVerdict : undefined;
  } finally {
    clearTimeout(timer);
  }
}
