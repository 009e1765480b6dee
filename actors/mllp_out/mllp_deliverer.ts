/**
 * Delivering one HL7v2 message over MLLP: keep one socket open between messages (closed after
 * an idle period), send, and wait for the ACK whose MSA-2 equals the sent MSH-10. An ACK timeout
 * closes the socket so the resend goes on a fresh connection.
 * @module
 */

import { tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Deliverer, DeliveryJob, DeliveryOutcome } from "../delivery/deliverer.ts";
import { HeldLink } from "../delivery/held_link.ts";
import type { MllpConnection, MllpConnector, MllpTarget } from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";

/** Per-destination settings (several destinations may share one host:port actor). */
export interface MllpDeliverySettings {
  ackTimeoutMs: number;
  onNack: "retry" | "dead-letter";
}

/** What an {@link MllpDeliverer} is made of. */
export interface MllpDelivererOptions {
  actorId: string;
  target: MllpTarget;
  connector: MllpConnector;
  clock: Clock;
  log: Logger;
  /** Settings for the destination a queue entry is for. */
  settings(destinationId: string | undefined): MllpDeliverySettings;
  /** Close the socket after this long without traffic, default 2 h. */
  idleCloseMs?: number;
  /** Connect timeout, default 10 s. */
  connectTimeoutMs?: number;
}

const decoder = new TextDecoder();

/** See the module doc. */
export class MllpDeliverer implements Deliverer {
  readonly #options: MllpDelivererOptions;
  readonly #link: HeldLink<MllpConnection>;

  /** A deliverer to `options.target`. */
  constructor(options: MllpDelivererOptions) {
    this.#options = options;
    this.#link = new HeldLink({
      actorId: options.actorId,
      idleCloseMs: options.idleCloseMs ?? 2 * 3600_000,
      idleEvent: "mllp.idle-close",
      log: options.log,
    });
  }

  /** True while the socket is open. */
  holdsConnection(): boolean {
    return this.#link.current !== undefined;
  }

  /** Peer, local address and connection age for the admin endpoint. */
  detail(): Record<string, unknown> {
    const { host, port, tls } = this.#options.target;
    return {
      remote: `${host}:${port}`,
      tls: tls !== undefined,
      ...this.#link.detail(),
    };
  }

  /** Closes a socket that has carried nothing for the idle period. */
  idle(now: number): Promise<void> {
    this.#link.idle(now);
    return Promise.resolve();
  }

  /** Closes the socket. */
  close(): Promise<void> {
    this.#link.drop();
    return Promise.resolve();
  }

  /** One attempt: connect if needed, send, await the correlated ACK. */
  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const { clock, log, actorId } = this.#options;
    const settings = this.#options.settings(job.head.entry.destinationId);
    const controlId = job.record.controlId ?? readControlId(job.payload);
    if (controlId === undefined) {
      return {
        ok: false,
        reason: "the message has no MSH-10 to correlate an ACK with",
        deadLetter: true,
      };
    }
    let conn = this.#link.current;
    if (!conn) {
      job.setState("connecting");
      try {
        conn = await this.#options.connector.connect(this.#options.target, {
          timeoutMs: this.#options.connectTimeoutMs ?? 10_000,
          signal: job.signal,
        });
      } catch (error) {
        return { ok: false, reason: `connect to ${this.#where()} failed: ${errorMessage(error)}` };
      }
      this.#link.hold(conn, clock.now());
      log.info("mllp.connected", { actor: actorId, remote: this.#where(), local: conn.local });
    }
    job.setState("sending");
    try {
      await conn.send(job.payload);
    } catch (error) {
      this.#link.drop();
      return { ok: false, reason: `send failed: ${errorMessage(error)}` };
    }
    this.#link.touch(clock.now());
    job.setState("awaiting-ack");
    const deadline = clock.now() + settings.ackTimeoutMs;
    while (true) {
      const remaining = deadline - clock.now();
      if (remaining <= 0) return this.#timeout(settings);
      // One controller per wait, ended by the ACK, the timeout or the job's signal. Cheaper on
      // the hot path than AbortSignal.any, and aborted with a reason: the default one is a
      // DOMException built with a stack on every message.
      const wait = new AbortController();
      const stop = () => wait.abort(ENDED);
      job.signal.addEventListener("abort", stop, { once: true });
      void clock.sleep(remaining, wait.signal).then(stop);
      const got = await conn.receive(wait.signal);
      job.signal.removeEventListener("abort", stop);
      stop();
      if (got.type === "aborted") {
        if (job.signal.aborted) {
          // Stopping or skipped mid-wait: the connection may still carry the old ACK; start clean.
          this.#link.drop();
          return { ok: false, reason: "aborted" };
        }
        return this.#timeout(settings);
      }
      if (got.type === "closed") {
        this.#link.drop();
        return { ok: false, reason: `connection closed before the ACK: ${got.reason}` };
      }
      this.#link.touch(clock.now());
      const verdict = readAck(got.payload, controlId);
      if (verdict.kind === "uncorrelated") {
        log.warn("mllp.uncorrelated-reply", {
          actor: actorId,
          expected: controlId,
          detail: verdict.detail,
        });
        continue;
      }
      if (verdict.kind === "accept") return { ok: true, detail: verdict.code };
      return {
        ok: false,
        reason: `${verdict.code}${verdict.text ? `: ${verdict.text}` : ""}`,
        deadLetter: settings.onNack === "dead-letter",
      };
    }
  }

  #timeout(settings: MllpDeliverySettings): DeliveryOutcome {
    this.#link.drop();
    return { ok: false, reason: `no ACK within ${settings.ackTimeoutMs / 1000} s; socket closed` };
  }

  #where(): string {
    return `${this.#options.target.host}:${this.#options.target.port}`;
  }
}

/** The reason a wait for an ACK ends with (not an error: read `job.signal` for a stop). */
const ENDED = "ended";

type AckVerdict =
  | { kind: "accept"; code: string }
  | { kind: "reject"; code: string; text?: string }
  | { kind: "uncorrelated"; detail: string };

/** Reads MSA-1/MSA-2 (and the error text) of a reply, checking it answers `controlId`. */
export function readAck(payload: Uint8Array, controlId: string): AckVerdict {
  const parsed = tryParseHl7(decoder.decode(payload));
  if (!parsed.ok) {
    return { kind: "uncorrelated", detail: `unreadable reply: ${parsed.error.message}` };
  }
  const msg = parsed.message;
  const code = msg.get("MSA-1");
  const answered = msg.get("MSA-2");
  if (code === undefined) {
    return { kind: "uncorrelated", detail: `reply has no MSA segment (${msg.messageType ?? "?"})` };
  }
  if (answered !== controlId) {
    return { kind: "uncorrelated", detail: `MSA-2 is ${JSON.stringify(answered ?? "")}` };
  }
  if (code === "AA" || code === "CA") return { kind: "accept", code };
  const text = msg.get("ERR-8") || msg.get("MSA-3") || msg.get("ERR-3.2") || msg.get("ERR-1.4.2");
  if (["AE", "AR", "CE", "CR"].includes(code)) {
    return { kind: "reject", code, ...(text ? { text } : {}) };
  }
  return {
    kind: "reject",
    code: `unknown acknowledgment code ${JSON.stringify(code)}`,
    ...(text ? { text } : {}),
  };
}

/** MSH-10 read straight from the first segment, without parsing the whole message. */
function readControlId(payload: Uint8Array): string | undefined {
  const head = decoder.decode(payload.subarray(0, 2048));
  if (!head.startsWith("MSH") || head.length < 4) return undefined;
  const first = head.split(/\r|\n/, 1)[0] ?? "";
  return first.split(head[3]!)[9] || undefined;
}
