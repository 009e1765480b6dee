/**
 * The communication step for MLLP: identify the sender, read MSH, store the message durably
 * (group commit, dedupe by integration + MSH-10: a message sent again, not another reusing its
 * MSH-10), and only then acknowledge. Every failure gets a negative ACK that says why, and a log
 * line.
 * @module
 */

import {
  buildAck,
  buildAckText,
  buildNakForUnparsable,
  encodeHl7,
  type Hl7Message,
  hl7ResendDigest,
  sameHl7Message,
  tryParseHl7,
} from "../../codecs/hl7v2/mod.ts";
import type { Config, IntegrationConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import type { Store } from "../store/store.ts";
import { StoreUnavailableError } from "../store/health.ts";
import { destinationActorId, inboundActorId } from "./identities.ts";
import { hl7TypeOf, routesWithoutApplicationStep } from "./hl7_routing.ts";
import type { Delivery, QueueItem } from "../store/requests.ts";
import { idTime } from "../store/ids.ts";
import type { InboxReply, MllpInbox, ReceivedFrame } from "../ports.ts";
import { PeerDirectory } from "./peers.ts";
import { routeBegins } from "./config_holder.ts";
import { ackWanted, type AppAcks, type AppVerdict } from "./app_acks.ts";
import { errorMessage } from "../runtime/errors.ts";
import {
  LogThrottle,
  REPEATABLE_LOG_BURST,
  REPEATABLE_LOG_INTERVAL_MS,
} from "../runtime/log_throttle.ts";
import { passOn } from "./pass_on.ts";
import { notRead, planIntake, readIntake } from "./intake_offload.ts";
import type { PlanThreads } from "./plan_threads.ts";

/** What the inbox needs. */
export interface EngineMllpInboxOptions {
  config: Config;
  store: Store;
  log: Logger;
  /** Wakes the inbound actor once its queue has a new message. */
  notify(actorId: string): void;
  /** Hands entries routed at intake to their destination actors (notified when absent). */
  handOver?(actorId: string, items: readonly QueueItem[]): void;
  /** Where enhanced-mode application ACKs wait for the application step. */
  appAcks?: AppAcks;
  /**
   * Where frames larger than `offloadBytes` are read (and routed, when their integration
   * routes at intake), off the engine's thread; without it, every frame is read here.
   */
  threads?: PlanThreads;
  /** Milliseconds of a monotonic clock, for the throttle of `mllp.control-id-reused` lines. */
  monotonic?: () => number;
}

/**
 * `text` as a string of its own. A field read from a message is a slice of the message's text, and
 * V8 keeps the whole text (a kilobyte or more) alive for as long as any slice of it is: a control
 * id kept in the records waiting for delivery kept every message's text until then, which the
 * garbage collector then copied and promoted. Flattening a concatenation copies only the field.
 */
function detached<T extends string | undefined>(text: T): T {
  return (text === undefined ? text : (" " + text).slice(1)) as T;
}

const encoder = new TextEncoder();

/** A reply's bytes: in `charset` (see `FrameRead.charset`), else UTF-8. */
function replyBytes(text: string, charset: string | undefined): Uint8Array {
  return charset === undefined ? encoder.encode(text) : encodeHl7(text, charset);
}

/** See the module doc. */
export class EngineMllpInbox implements MllpInbox {
  readonly #options: EngineMllpInboxOptions;
  #peers: PeerDirectory;
  /** The config `#peers` and the caches below were made from (a reload swaps it). */
  #seen: Config;
  /** Per integration: whether its messages are routed in the commit that stores them. */
  readonly #routeAtIntake = new Map<string, boolean>();
  /** Inbound queues seen empty: new messages of their integration skip them for good. */
  readonly #drained = new Set<string>();
  /** Largest frame accepted (config `limits.maxHl7Bytes`). */
  readonly maxFrameBytes: number;
  readonly #reuseLog: LogThrottle;

  /** An inbox for the integrations of `options.config`. */
  constructor(options: EngineMllpInboxOptions) {
    this.#options = options;
    this.#seen = options.config;
    this.#peers = new PeerDirectory(this.#seen.integrations);
    this.maxFrameBytes = options.config.limits.maxHl7Bytes;
    // Per integration, as the lines a client can repeat: a sender with a fixed MSH-10 would
    // write one `mllp.control-id-reused` for every message.
    this.#reuseLog = new LogThrottle(
      REPEATABLE_LOG_INTERVAL_MS,
      options.monotonic ?? (() => performance.now()),
      { burst: REPEATABLE_LOG_BURST },
    );
  }

  /** The local ports MLLP integrations listen on. */
  get ports(): number[] {
    return this.#directory().ports;
  }

  /** Idle timeout of the integration that claims the peer (10 minutes when none does). */
  idleTimeoutMs(localPort: number, peerIp: string): number {
    const claim = this.#directory().claim(localPort, peerIp);
    const list = claim.kind === "one"
      ? [claim.integration]
      : claim.kind === "by-facility"
      ? claim.candidates
      : [];
    // An unknown peer still gets the default: it is answered AR and closed on its first message.
    if (list.length === 0) return 600_000;
    return Math.max(...list.map((i) => i.mllp!.idleTimeoutSeconds)) * 1000;
  }

  /** AR for a frame over the limit. */
  oversize(info: { localPort: number; peerIp: string; size: number; limit: number }): Uint8Array {
    const reason = `message larger than the limit of ${info.limit} bytes; connection closed`;
    this.#options.log.warn("mllp.oversize", {
      port: info.localPort,
      peer: info.peerIp,
      size: info.size,
      limit: info.limit,
    });
    return encoder.encode(buildNakForUnparsable({ reason, errorCode: "104" }).encode());
  }

  /** Handles one frame; see the module doc. */
  async receive(frame: ReceivedFrame): Promise<InboxReply> {
    const { log } = this.#options;
    const where = { port: frame.localPort, peer: frame.peerIp, connection: frame.connection };
    const read = await readIntake(
      this.#options.threads,
      frame.payload,
      this.#options.config.limits.fallbackCharset,
    );
    if ("failed" in read) {
      log.warn("mllp.unreadable", { ...where, reason: read.failed });
      return { reply: notRead(frame.payload, read.failed) };
    }
    if (!read.ok) {
      log.warn("mllp.unreadable", { ...where, reason: read.error });
      return { reply: read.nak };
    }
    const { message: msg, text } = read;
    const integration = this.#identify(frame, msg);
    if ("reason" in integration) {
      log.warn("mllp.unknown-sender", { ...where, reason: integration.reason });
      // 204 Unknown key identifier: the sender (its address, or MSH-4) is not one we know.
      const { reason, location } = integration;
      return { ...this.#reply(msg, "AR", reason, "204", location, read.charset), close: true };
    }
    const enhanced = integration.mllp?.ackMode === "enhanced";
    // Enhanced mode: MSH-15 says which accept ACKs the sender wants (AL when empty), MSH-16 which
    // application ACKs (none when empty).
    const acceptWhen = enhanced ? msg.get("MSH-15") || "AL" : "AL";
    const appWhen = enhanced ? msg.get("MSH-16") || "NE" : "NE";
    const negative = (reply: InboxReply): InboxReply =>
      ackWanted(acceptWhen, "error") ? reply : { ...reply, reply: undefined };
    // A start block (0x0B) or end block (0x1C) in the content (the strict decoder keeps an FS not
    // followed by CR): no MLLP destination could ever send it on, so it is refused, not stored.
    if (read.control) {
      const { offset: bad, byte, location } = read.control;
      const hex = byte.toString(16).toUpperCase().padStart(2, "0");
      log.warn("mllp.control-byte", {
        ...where,
        integration: integration.id,
        byte: `0x${hex}`,
        offset: bad,
        ...(location ? { location } : {}),
        controlId: msg.controlId,
      });
      return negative(this.#reply(
        msg,
        enhanced ? "CR" : "AR",
        `the message holds the MLLP control byte 0x${hex} at byte ${bad} (counted from 0 after ` +
          `the start block${location ? `, in ${location}` : ""}); MLLP cannot carry it, ` +
          `escape it as \\X${hex}\\`,
        // 102 Data type error: a control character is not allowed in any HL7 text data type.
        "102",
        location,
        read.charset,
      ));
    }
    // Kept in the records that wait in memory for delivery: a copy, not a slice of the text.
    const controlId = detached(msg.controlId);
    if (!controlId) {
      log.warn("mllp.no-control-id", { ...where, integration: integration.id });
      return negative(this.#reply(
        msg,
        enhanced ? "CR" : "AR",
        "MSH-10 (message control id) is empty",
        "101",
        "MSH-10",
        read.charset,
      ));
    }
    // The ACK is made from the message id (its MSH-10) and time (MSH-7), so a repeat within the
    // dedupe window is answered with the very same ACK without storing it. MSH-7 is the wall
    // clock's now when that is earlier than the id's time: after a forward clock excursion ids
    // stay stamped ahead until real time catches up (they never go back), and an ACK must not
    // claim a time in the future. (A fresh id's time is now, so a first ACK carries the time now.)
    const ackOf = (id: string) =>
      buildAckText(msg, {
        code: enhanced ? "CA" : "AA",
        controlId: id,
        now: new Date(Math.min(idTime(id), Date.now())),
      });
    let messageId = this.#options.store.newId();
    const ack = ackOf(messageId);
    let routedAtIntake = false;
    const queue = inboundActorId(frame.localPort, frame.peerIp);
    // Routed under this config until its commit settles: a reload moving a destination waits
    // for it (config_holder.ts, queue_moves.ts).
    const config = this.#options.config;
    const inProgress = routeBegins(config);
    let counted = true;
    try {
      const routing = await this.#routeNow(
        config,
        integration,
        queue,
        frame,
        msg,
        messageId,
        controlId,
      );
      routedAtIntake = routing !== undefined;
      if (!routing) {
        // Stored for the inbound actor, which routes it (and counts that route) itself.
        counted = false;
        inProgress.end();
      }
      const result = await this.#options.store.accept({
        messageId,
        ...(routing ? { deliveries: routing.deliveries } : {}),
        queue,
        origin: { kind: "integration", id: integration.id, peer: frame.peerIp },
        payload: frame.payload,
        contentType: "application/hl7-v2",
        controlId,
        messageType: hl7TypeOf(msg),
        dedupe: {
          scope: integration.id,
          key: controlId,
          ack: "",
          windowMs: this.#options.config.limits.dedupeWindowSeconds * 1000,
          // A sender that reuses MSH-10 (a counter restarted) sends new messages under old ids:
          // only the same message sent again (MSH-7 and line ends aside) is a duplicate, of the
          // message the MSH-10 names now or of one it named before within the window (told by
          // the digest of the same comparable form; taken only when the key is seen).
          sameMessage: (earlier) => sameHl7Message(earlier, frame.payload),
          digest: hl7ResendDigest,
        },
        log: {
          type: "RECEIVE",
          integrationId: integration.id,
          environment: integration.environment,
          ...routing?.model,
        },
      });
      if (result.status === "duplicate") {
        log.info("mllp.duplicate", {
          ...where,
          integration: integration.id,
          controlId,
          messageId: result.messageId,
        });
        const again = result.ack || ackOf(result.messageId);
        return ackWanted(acceptWhen, "success") ? { reply: replyBytes(again, read.charset) } : {};
      }
      messageId = result.messageId;
      const count = result.reused ? this.#reuseLog.note(integration.id) : 0;
      if (count > 0) {
        log.warn("mllp.control-id-reused", {
          ...where,
          integration: integration.id,
          controlId,
          messageId,
          earlier: result.reused,
          reason: "its MSH-10 named another message within the dedupe window: stored as a new " +
            "message, not answered as a duplicate",
          ...(count > 1 ? { count } : {}),
        });
      }
      // Routed in the same commit: each destination actor gets its entry in memory.
      if (routing) passOn(result.routed, routing.deliveries, this.#options);
      log.debug("mllp.accepted", {
        ...where,
        integration: integration.id,
        controlId,
        messageId: result.messageId,
      });
    } catch (error) {
      // A full disk fails every message: the store's health warns once per interval.
      const level = error instanceof StoreUnavailableError ? "debug" : "error";
      log[level]("mllp.store-failed", { ...where, integration: integration.id, controlId, error });
      const reason = `could not store the message: ${errorMessage(error)}`;
      return negative(
        this.#reply(msg, enhanced ? "CE" : "AE", reason, "207", undefined, read.charset),
      );
    } finally {
      if (counted) inProgress.end();
    }
    const answer: InboxReply = ackWanted(acceptWhen, "success")
      ? { reply: replyBytes(ack, read.charset) }
      : {};
    if (appWhen !== "NE" && this.#options.appAcks) {
      answer.later = this.#options.appAcks.expect(
        messageId,
        appAckBuilder(text, appWhen, read.charset),
      );
    }
    if (!routedAtIntake) this.#options.notify(queue);
    return answer;
  }

  /**
   * The routes of a message whose integration needs no application step (see
   * {@link routesWithoutApplicationStep}), decided now so that the commit storing it also queues
   * it for its destinations; undefined when it goes to the inbound actor's queue. The inbound
   * queue is used while it still holds messages (after a restart), so none overtakes them.
   */
  async #routeNow(
    config: Config,
    integration: IntegrationConfig,
    queue: string,
    frame: ReceivedFrame,
    msg: Hl7Message,
    messageId: string,
    controlId: string,
  ): Promise<
    { deliveries: Delivery[]; model: { dataModel?: string; eventType?: string } } | undefined
  > {
    const { store } = this.#options;
    let eligible = this.#routeAtIntake.get(integration.id);
    if (eligible === undefined) {
      eligible = routesWithoutApplicationStep(config, integration);
      this.#routeAtIntake.set(integration.id, eligible);
    }
    if (!eligible) return undefined;
    if (!this.#drained.has(queue)) {
      if ((await store.depth(queue)) > 0) return undefined;
      this.#drained.add(queue);
    }
    const { payload } = frame;
    const plan = await planIntake(this.#options.threads, { config, integration, payload, msg });
    // Not expected of an eligible integration (nor that the planning thread fails); the inbound
    // actor reports it properly. Its queue then holds a message: the next ones go there too.
    if (!plan || plan.failures.length > 0 || plan.routes.some((r) => r.format !== "hl7v2")) {
      this.#drained.delete(queue);
      return undefined;
    }
    const model = plan.dataModel ? { dataModel: plan.dataModel, eventType: plan.eventType } : {};
    const log = {
      integrationId: integration.id,
      environment: integration.environment,
      ...(controlId ? { controlId } : {}),
      ...model,
    };
    return {
      deliveries: plan.routes.map((r) => ({
        queue: destinationActorId(r.destination),
        destinationId: r.destination.id,
        messageId,
        originalId: messageId,
        log,
      })),
      model,
    };
  }

  #identify(
    frame: ReceivedFrame,
    msg: Hl7Message,
  ): IntegrationConfig | { reason: string; location?: string } {
    const claim = this.#directory().claim(frame.localPort, frame.peerIp);
    if (claim.kind === "none") {
      return {
        reason: `no integration accepts messages from ${frame.peerIp} on port ${frame.localPort}`,
      };
    }
    if (claim.kind === "one") return claim.integration;
    const facility = msg.get("MSH-4.1");
    return PeerDirectory.byFacility(claim.candidates, facility) ?? {
      reason: `no integration accepts sending facility ${
        JSON.stringify(facility ?? "")
      } from ${frame.peerIp} on port ${frame.localPort}`,
      location: "MSH-4",
    };
  }

  #reply(
    msg: Hl7Message,
    code: "AR" | "AE" | "CR" | "CE",
    text: string,
    errorCode: string,
    location?: string,
    charset?: string,
  ): InboxReply {
    const error = { code: errorCode, text, ...(location ? { location } : {}) };
    return { reply: replyBytes(buildAck(msg, { code, error }).encode(), charset) };
  }

  /** The peers of the running config; a new config also forgets what was decided for the old. */
  #directory(): PeerDirectory {
    const config = this.#options.config;
    if (config !== this.#seen) {
      this.#seen = config;
      this.#peers = new PeerDirectory(config.integrations);
      this.#routeAtIntake.clear();
      this.#drained.clear();
    }
    return this.#peers;
  }
}

/**
 * Builds the application ACK for a verdict, or nothing when MSH-16 does not want it. Keeps only
 * the header of the original, not the whole (possibly large) message, while it waits.
 */
function appAckBuilder(
  text: string,
  when: string,
  charset: string | undefined,
): (verdict: AppVerdict) => Uint8Array | undefined {
  const end = text.search(/[\r\n]/);
  const header = end < 0 ? text : text.slice(0, end);
  return (verdict) => {
    if (!ackWanted(when, verdict.code === "AA" ? "success" : "error")) return undefined;
    const parsed = tryParseHl7(header);
    if (!parsed.ok) return undefined;
    const ack = buildAck(parsed.message, {
      code: verdict.code,
      ...(verdict.code !== "AA" && verdict.text
        ? {
          error: {
            code: verdict.errorCode ?? "207",
            text: verdict.text,
            ...(verdict.location ? { location: verdict.location } : {}),
          },
        }
        : {}),
    });
    return replyBytes(ack.encode(), charset);
  };
}
