/**
 * Delivering one HL7v2 message over MLLP: keep one socket open between messages (closed after
 * an idle period), send, and wait for the ACK whose MSA-2 equals the sent MSH-10 (read from the
 * payload when the record keeps only a bounded copy of a long one). An ACK timeout closes the
 * socket so the resend goes on a fresh connection. A message MLLP cannot frame (a 0x0B or 0x1C
 * byte in it) fails for good at once: the actor dead-letters it and the queue goes on.
 *
 * A reply names the message it answers only by MSA-2, and a destination may answer a message
 * twice (an accept ACK, then an application ACK) or late: a message whose MSH-10 the connection
 * already carried for another message (a sender that reuses MSH-10, or sends a fixed one) goes
 * out on a fresh connection, so that no reply still due to that one can be taken for its ACK;
 * nor does the socket thread send such a message on its own (it is left out of the list it
 * follows). A retry of the same message stays on its connection.
 * @module
 */

import { readAck, scanAck } from "../../codecs/hl7v2/mod.ts";
import { CarriedControlIds } from "../../codecs/hl7v2/carried_ids.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Deliverer, DeliveryJob, DeliveryOutcome } from "../delivery/deliverer.ts";
import { HeldLink } from "../delivery/held_link.ts";
import type {
  AheadMessage,
  MllpConnection,
  MllpConnector,
  MllpRunAhead,
  MllpTarget,
} from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";
import {
  LogThrottle,
  REPEATABLE_LOG_BURST,
  REPEATABLE_LOG_INTERVAL_MS,
} from "../runtime/log_throttle.ts";
import {
  clipPeerText,
  correlationId,
  describeStrayReplies,
  notHl7Reason,
  unframeableReason,
} from "./correlation.ts";

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

/** See the module doc. */
export class MllpDeliverer implements Deliverer {
  readonly #options: MllpDelivererOptions;
  readonly #link: HeldLink<MllpConnection>;
  /**
   * The ACK wait under way (or, `sending`, the message's write): its connection, and when it
   * times out (on the clock's monotonic reading).
   */
  #waiting: { conn: MllpConnection; deadline: number; sending?: boolean } | undefined;
  /** The ACK watchdog's sleep, and when it wakes (see {@link #watch}). */
  #watchdog: AbortController | undefined;
  #watchdogAt: number | undefined;
  /** The message a run-ahead connection sent on its own after the last ACK, and on which. */
  #followed: { conn: MllpConnection; key: string } | undefined;
  /**
   * The keys the connection's follow list still holds after the one in flight, in order: a
   * mirror of the socket thread's list, so that a message it did not send on its own (its turn
   * to go on had passed) but that heads that list goes out without the list crossing again.
   */
  #listKeys: string[] = [];
  /** The connection whose follow list is not empty, if any, and the last message on it. */
  #listedOn: MllpRunAhead | undefined;
  #tail: string | undefined;
  /** Paused or handing over: nothing goes out on the connection's own. */
  #held = false;
  /** The MSH-10s the connection held carried (or was listed to send), for which message. */
  #carried: { conn: MllpConnection; ids: CarriedControlIds } | undefined;
  /** `mllp.reconnect-reused-control-id` lines: 20 per 5 s, then one with the count. */
  readonly #reconnectLog: LogThrottle;

  /** A deliverer to `options.target`. */
  constructor(options: MllpDelivererOptions) {
    this.#options = options;
    this.#reconnectLog = new LogThrottle(
      REPEATABLE_LOG_INTERVAL_MS,
      () => options.clock.monotonic(),
      { burst: REPEATABLE_LOG_BURST },
    );
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
      ...(this.#link.current?.runAhead ? { sendsAhead: true } : {}),
    };
  }

  /** Nothing more goes out on the connection's own (a pause, a handover) until {@link release}. */
  hold(): void {
    this.#held = true;
    this.#link.current?.runAhead?.hold();
  }

  /** Ends a {@link hold}: the next message let through may be followed again. */
  release(): void {
    this.#held = false;
  }

  /** The message the connection sent on its own and whose ACK is still to be taken, if any. */
  sentAhead(): string | undefined {
    const f = this.#followed;
    return f && f.conn === this.#link.current ? f.key : undefined;
  }

  /** Closes a socket that has carried nothing for the idle period (`mono`: monotonic now). */
  idle(mono: number): Promise<void> {
    // Nothing to send: the watchdog is not needed until the next wait arms it again.
    this.#unwatch();
    this.#link.idle(mono);
    return Promise.resolve();
  }

  /** When the idle socket is closed, if one is open (see {@link Deliverer.idleCloseAt}). */
  idleCloseAt(): number | undefined {
    return this.#link.closesAt();
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
    const notHl7 = notHl7Reason(job.payload);
    if (notHl7 !== undefined) return { ok: false, reason: notHl7, deadLetter: true };
    // The record's MSH-10, or the payload's when the record keeps only a bounded copy of it.
    const controlId = correlationId(job.record.controlId, job.payload);
    if (controlId === undefined) {
      return {
        ok: false,
        reason: "the message has no MSH-10 to correlate an ACK with",
        deadLetter: true,
      };
    }
    const key = job.head.entry.seq;
    const followed = this.#followed;
    this.#followed = undefined;
    // Sent already by the connection on its own, when the last ACK accepted the message before.
    let onWire = followed !== undefined && followed.conn === this.#link.current &&
      followed.key === key;
    if (followed && !onWire && followed.conn === this.#link.current) {
      // The connection went on with a message that is not the one asked for now (the queue
      // changed under it: a skip, an entry committed out of order): its ACK is not awaited here,
      // so the resend goes on a fresh connection rather than after an answer meant for it.
      this.#link.drop();
    }
    if (
      !onWire && this.#link.current && this.#carriedOn(this.#link.current).clashes(controlId, key)
    ) {
      // A reply still due to the earlier message under this MSH-10 would read as this one's ACK.
      // Throttled as the lines a client can repeat: a sender with a fixed MSH-10 makes one a message.
      const count = this.#reconnectLog.note("");
      if (count > 0) {
        log.info("mllp.reconnect-reused-control-id", {
          actor: actorId,
          ...(job.head.entry.destinationId ? { destination: job.head.entry.destinationId } : {}),
          controlId: clipPeerText(controlId, LOGGED_CONTROL_ID_MAX),
          remote: this.#where(),
          next: "an earlier message on this connection had the same MSH-10: sent on a fresh " +
            "connection, so that a late reply to that one cannot be taken as this one's ACK",
          ...(count > 1 ? { count } : {}),
        });
      }
      this.#link.drop();
    }
    const lost = this.#link.lost();
    if (lost) {
      // Ended while no ACK was awaited (a wait learns of an end as it happens, in its reason).
      const reason = lost.endReason ?? "closed";
      const fields = { actor: actorId, remote: this.#where(), reason: clipPeerText(reason) };
      if (reason === PEER_CLOSED) log.info("mllp.disconnected", fields);
      else log.warn("mllp.disconnected", fields);
    }
    let conn = this.#link.current;
    if (!conn) {
      onWire = false;
      job.setState("connecting");
      try {
        conn = await this.#options.connector.connect(this.#options.target, {
          timeoutMs: this.#options.connectTimeoutMs ?? 10_000,
          signal: job.signal,
        });
      } catch (error) {
        return { ok: false, reason: `connect to ${this.#where()} failed: ${errorMessage(error)}` };
      }
      this.#link.hold(conn, clock.now(), clock.monotonic());
      log.info("mllp.connected", { actor: actorId, remote: this.#where(), local: conn.local });
    }
    const ahead = conn.runAhead;
    let continuing = false;
    if (ahead) {
      // Let through just now by the actor's gate (fencing): the connection may go on by itself
      // briefly, unless paused or handing over.
      if (this.#held) ahead.hold();
      else ahead.allow(AHEAD_ALLOWED_MS);
      // The list the connection holds goes on from this message when it heads that list: the
      // connection sent it on its own (on the wire), or was not let go on by itself in time
      // (under load, the actor's turn came after the allowance ended): then it is sent alone and
      // the list stays. Anything else (a skip, a retry, another connection) lists anew.
      continuing = this.#listedOn === ahead && this.#listKeys[0] === key;
      if (continuing) this.#listKeys.shift();
      else this.#listKeys = [];
    }
    // Before the list is made: none of it may share this MSH-10.
    this.#carriedOn(conn).note(controlId, key);
    // The ACK timeout runs from here: writing the message counts against it, so a destination that
    // stops reading (its window shut) fails the attempt as one that does not answer does. On the
    // monotonic clock: a wall-clock step neither stretches the wait nor ends it early.
    const deadline = clock.monotonic() + settings.ackTimeoutMs;
    if (!onWire) {
      job.setState("sending");
      // The list goes with the message, before its ACK can come back.
      const failed = await this.#written(
        conn,
        ahead
          ? ahead.sendKeyed(
            { key, controlId, payload: job.payload },
            continuing ? undefined : this.#list(conn, ahead, job, key)?.next,
          )
          : conn.send(job.payload),
        deadline,
        job,
        settings,
      );
      if (failed) return failed;
      this.#link.touch(clock.monotonic());
    }
    if ((onWire || continuing) && ahead && this.#listKeys.length < AHEAD_REFILL_BELOW) {
      const list = this.#list(conn, ahead, job, key, this.#tail);
      if (list) ahead.follow(list.after, list.next);
    }
    job.setState("awaiting-ack");
    // Replies that acknowledge another message (or nothing): named in the reason if no ACK comes.
    // The wait goes on after one until the timeout, rather than failing at once: a receiver may
    // send a late or repeated ACK of an earlier message (an AA after an AE, one for a message
    // whose wait timed out) before the ACK of this one, and failing then would resend a message
    // about to be accepted. Such a reply is never taken as this message's ACK.
    let strays = 0;
    let firstStray = "";
    while (true) {
      if (deadline - clock.monotonic() <= 0) return this.#timeout(settings, strays, firstStray);
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
        return this.#timeout(settings, strays, firstStray);
      }
      if (got.type === "closed") {
        this.#link.drop();
        // Sent on its own by the socket thread, a message MLLP cannot frame ends the connection
        // there (its encoder refuses it; nothing of it is written): failed for good here.
        if (onWire) {
          const unframeable = this.#unframeable(job);
          if (unframeable) return unframeable;
        }
        const stray = strays > 0 ? `; ${describeStrayReplies(strays, firstStray)}` : "";
        return { ok: false, reason: `connection closed before the ACK: ${got.reason}${stray}` };
      }
      this.#link.touch(clock.monotonic());
      // A glance first, as the socket thread reads it (so both take the same ACK as an accept).
      const scan = scanAck(got.payload, controlId);
      const verdict = scan.kind === "accept" ? scan : readAck(got.payload, controlId);
      if (verdict.kind === "uncorrelated") {
        if (strays++ === 0) firstStray = verdict.detail;
        log.warn("mllp.uncorrelated-reply", {
          actor: actorId,
          expected: clipPeerText(controlId, LOGGED_CONTROL_ID_MAX),
          detail: clipPeerText(verdict.detail),
        });
        continue;
      }
      if (verdict.kind === "accept") {
        if (got.followedBy !== undefined) this.#followed = { conn, key: got.followedBy };
        return { ok: true, detail: verdict.code };
      }
      return {
        ok: false,
        // `AE: Patient MRN 12345 not found (error 204)`: the peer's error code too, when it gave one.
        reason: `${verdict.code}${verdict.text ? `: ${verdict.text}` : ""}${
          verdict.errorCode ? ` (error ${verdict.errorCode})` : ""
        }`,
        deadLetter: settings.onNack === "dead-letter",
      };
    }
  }

  /**
   * Waits for `sending` (the message's write) to finish, for at most the attempt's deadline: a
   * write the destination does not take (it stopped reading and its window is shut) would
   * otherwise wait for ever, holding the queue, a skip and the engine's stop. The watchdog closes
   * the connection at the deadline, and a skip or a stop closes it at once; either ends the write.
   * Undefined once written, else the attempt's failure.
   */
  async #written(
    conn: MllpConnection,
    sending: Promise<void>,
    deadline: number,
    job: DeliveryJob,
    settings: MllpDeliverySettings,
  ): Promise<DeliveryOutcome | undefined> {
    const onAbort = () => conn.close();
    job.signal.addEventListener("abort", onAbort, { once: true });
    this.#waiting = { conn, deadline, sending: true };
    this.#watch(deadline);
    try {
      await sending;
      return undefined;
    } catch (error) {
      this.#link.drop();
      if (job.signal.aborted) return { ok: false, reason: "aborted" };
      if (this.#options.clock.monotonic() >= deadline) {
        return {
          ok: false,
          reason: `the destination took no more of the message for ${
            settings.ackTimeoutMs / 1000
          } s (it stopped reading); socket closed`,
        };
      }
      // Nothing went out; if MLLP cannot frame this message at all, no retry ever will.
      return this.#unframeable(job) ??
        { ok: false, reason: `send failed: ${errorMessage(error)}` };
    } finally {
      this.#waiting = undefined;
      job.signal.removeEventListener("abort", onAbort);
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
    const { clock } = this.#options;
    void clock.sleep(deadline - clock.monotonic(), armed.signal).then(() => {
      if (this.#watchdog !== armed) return; // cancelled or replaced meanwhile
      this.#watchdog = undefined;
      this.#watchdogAt = undefined;
      const waiting = this.#waiting;
      if (!waiting) return;
      if (clock.monotonic() < waiting.deadline) this.#watch(waiting.deadline);
      // A write not taken by then ends with the connection; a wait for the ACK is interrupted.
      else if (waiting.sending) waiting.conn.close();
      else waiting.conn.interrupt();
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

  /**
   * The messages queued after `key` to give `conn` (`ahead`) to send on its own, or undefined when
   * it has nothing new to be told. Continuing from `tail` (the end of the list it holds, when
   * `key` came from that list), only what lies beyond `tail` (each message crosses to the socket
   * thread once), to follow `tail`; otherwise the whole list, to follow `key`.
   */
  #list(
    conn: MllpConnection,
    ahead: MllpRunAhead,
    job: DeliveryJob,
    key: string,
    tail?: string,
  ): { after: string; next: AheadMessage[] } | undefined {
    const items = job.upcoming?.(AHEAD_LIST) ?? [];
    if (this.#listedOn !== ahead) tail = undefined;
    const from = tail === undefined ? 0 : items.findIndex((i) => i.head.entry.seq === tail) + 1;
    const next: AheadMessage[] = [];
    const carried = this.#carriedOn(conn);
    for (const item of from > 0 ? items.slice(from) : items) {
      const controlId = correlationId(item.record.controlId, item.payload);
      // One without its payload in memory or its MSH-10 is sent (or refused) by the actor, and so
      // is one whose MSH-10 this connection carried (or lists) for another message: on a fresh
      // connection (see the module doc).
      if (!item.payload || !controlId) break;
      const itemKey = item.head.entry.seq;
      if (carried.clashes(controlId, itemKey)) break;
      carried.note(controlId, itemKey);
      next.push({ key: itemKey, controlId, payload: item.payload });
    }
    if (from === 0) this.#listKeys = [];
    for (const n of next) this.#listKeys.push(n.key);
    if (next.length === 0 && (from > 0 || this.#listedOn !== ahead)) return undefined;
    const after = from > 0 ? tail! : key;
    this.#tail = next.at(-1)?.key ?? after;
    this.#listedOn = this.#listKeys.length > 0 ? ahead : undefined;
    return { after, next };
  }

  /** The MSH-10s `conn` carried, when it is the connection held (anew for a new connection). */
  #carriedOn(conn: MllpConnection): CarriedControlIds {
    if (this.#carried?.conn !== conn) this.#carried = { conn, ids: new CarriedControlIds() };
    return this.#carried.ids;
  }

  #timeout(settings: MllpDeliverySettings, strays: number, firstStray: string): DeliveryOutcome {
    this.#link.drop();
    const stray = strays > 0 ? `; ${describeStrayReplies(strays, firstStray)}` : "";
    return {
      ok: false,
      reason: `no ACK within ${settings.ackTimeoutMs / 1000} s${stray}; socket closed`,
    };
  }

  /**
   * A permanent failure (dead-lettered at once) when MLLP cannot frame the job's message: it
   * holds a start- or end-block byte, which the encoder refuses. Looked for only once a send
   * failed, so that a message that goes out is not scanned once more.
   */
  #unframeable(job: DeliveryJob): DeliveryOutcome | undefined {
    const reason = unframeableReason(job.payload);
    return reason === undefined ? undefined : { ok: false, reason, deadLetter: true };
  }

  #where(): string {
    return `${this.#options.target.host}:${this.#options.target.port}`;
  }
}

/**
 * How long a run-ahead connection may go on sending by itself after the actor's gate last let a
 * message go: a frozen or fenced node's socket thread stops within this, far inside a lease's
 * last third.
 */
const AHEAD_ALLOWED_MS = 200;
/** Messages listed to a run-ahead connection at a time, and when the list is refilled. */
const AHEAD_LIST = 32;
const AHEAD_REFILL_BELOW = 8;

/** Characters of the awaited MSH-10 in an `mllp.uncorrelated-reply` line. */
const LOGGED_CONTROL_ID_MAX = 256;

/** How a connection's end reads when the destination closed it (a normal idle close). */
const PEER_CLOSED = "closed by the peer";

/** Why a watchdog sleep is cut short (cancelled or replaced; not an error). */
const ENDED = "ended";
