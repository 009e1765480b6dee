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
  /** The ACK wait under way: its connection, and when it times out. */
  #waiting: { conn: MllpConnection; deadline: number } | undefined;
  /** The ACK watchdog's sleep, and when it wakes (see {@link #watch}). */
  #watchdog: AbortController | undefined;
  #watchdogAt: number | undefined;

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
    // Nothing to send: the watchdog is not needed until the next wait arms it again.
    this.#unwatch();
    this.#link.idle(now);
    return Promise.resolve();
  }

  /** Closes the socket. */
  close(): Promise<void> {
    this.#unwatch();
    this.#link.drop();
    return Promise.resolve();
  }

  /** One attempt: connect if needed, send, await the correlated ACK. */
  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const outcome = await this.#attempt(job);
    // The actor backs off after a failure: no watchdog sleep is left behind meanwhile.
    if (!outcome.ok) this.#unwatch();
    return outcome;
  }

  async #attempt(job: DeliveryJob): Promise<DeliveryOutcome> {
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
      if (deadline - clock.now() <= 0) return this.#timeout(settings);
      // The job's signal ends the wait on a skip or stop; the watchdog interrupts it at the deadline.
      this.#waiting = { conn, deadline };
      this.#watch(deadline);
      const got = await conn.receive(job.signal);
      this.#waiting = undefined;
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

  /**
   * Arms the ACK watchdog to wake by `deadline`. One sleep serves many waits: under load a wait
   * ends long before its deadline, and the next one's deadline is later, so the sleep armed for
   * an earlier wait is kept; when it wakes early it sleeps again until the current wait's deadline.
   * (A sleep and its controller for every wait cost the hot path more than the rest of the wait.)
   */
  #watch(deadline: number): void {
    if (this.#watchdogAt !== undefined && this.#watchdogAt <= deadline) return;
    this.#watchdog?.abort(ENDED);
    const armed = new AbortController();
    this.#watchdog = armed;
    this.#watchdogAt = deadline;
    void this.#options.clock.sleep(deadline - this.#options.clock.now(), armed.signal).then(() => {
      if (this.#watchdog !== armed) return; // cancelled or replaced meanwhile
      this.#watchdog = undefined;
      this.#watchdogAt = undefined;
      const waiting = this.#waiting;
      if (!waiting) return;
      if (this.#options.clock.now() >= waiting.deadline) waiting.conn.interrupt();
      else this.#watch(waiting.deadline);
    });
  }

  /**
   * Cancels the watchdog: on close (no timer may outlive the deliverer), when idle, and after a
   * failed attempt (the actor's own clock waits then, with nothing of this one left sleeping).
   */
  #unwatch(): void {
    this.#watchdog?.abort(ENDED);
    this.#watchdog = undefined;
    this.#watchdogAt = undefined;
  }

  #timeout(settings: MllpDeliverySettings): DeliveryOutcome {
    this.#link.drop();
    return { ok: false, reason: `no ACK within ${settings.ackTimeoutMs / 1000} s; socket closed` };
  }

  #where(): string {
    return `${this.#options.target.host}:${this.#options.target.port}`;
  }
}

/** Why a watchdog sleep is cut short (cancelled or replaced; not an error). */
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
