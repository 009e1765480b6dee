/**
 * The simulated health system: a built-in EHR with a synthetic patient registry that sends
 * coherent event streams on demand (or on a schedule), receives and validates what the engine
 * delivers, answers patient queries, and misbehaves on request. Sockets are not its business:
 * it sends through the {@link MllpConnector} and {@link HttpSender} ports, and transports serve
 * its {@link SandboxReceiver} (an MLLP inbox and a JSON handler).
 *
 * @module
 */

import {
  createRegistry,
  type Registry,
  resolveEvents,
  Simulator,
  supportedLabels,
  type SyntheticMessage,
} from "../../codecs/synthetic/mod.ts";
import type { HttpSender } from "../https_out/http_client.ts";
import type { MllpConnector } from "../mllp_out/connector.ts";
import { type Clock, systemClock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import { type Misbehaviour, Mischief } from "./misbehaviour.ts";
import { SandboxReceiver } from "./receiver.ts";
import { sendMessages, type SendReport, type SendTarget } from "./sender.ts";

/** What {@link SimulatedHealthSystem} is made of. */
export interface SimulatedHealthSystemOptions {
  /** Seed of the registry and of the streams (default `sandbox`). */
  readonly seed?: string;
  /** Patients in the registry (default 200). */
  readonly registrySize?: number;
  readonly connector: MllpConnector;
  readonly http?: HttpSender;
  readonly clock?: Clock;
  readonly log: Logger;
  /** IANA zone of HL7 times received without offset (default UTC). */
  readonly timeZone?: string;
}

/** One request to send. */
export interface SendRequest {
  readonly to: SendTarget;
  /**
   * What to send: a label of {@link resolveEvents} (`ADT^A01`, `PatientAdmin.Arrival`, `Results`,
   * `all`), or nothing for the mixed stream of stories.
   */
  readonly event?: string;
  /** How many messages (1 to 100 000). */
  readonly count: number;
  /** Messages per second (default: as fast as the answers come). */
  readonly ratePerSecond?: number;
  /** Seed of this run's stream (default: new for every run). */
  readonly seed?: string;
  readonly signal?: AbortSignal;
}

/** The most messages one request may ask for. */
export const MAX_SEND_COUNT = 100_000;

/** Why a request cannot be sent (`count: …`), or undefined when it can. */
export function checkSendRequest(r: { event?: unknown; count?: unknown; ratePerSecond?: unknown }):
  | string
  | undefined {
  if (typeof r.count !== "number" || !Number.isInteger(r.count) || r.count < 1) {
    return "count: must be a whole number of at least 1";
  }
  if (r.count > MAX_SEND_COUNT) return `count: at most ${MAX_SEND_COUNT}`;
  if (r.event !== undefined) {
    if (typeof r.event !== "string" || resolveEvents(r.event).length === 0) {
      return `event: ${JSON.stringify(r.event)} names no supported event (use a data model, ` +
        `Model.Event, all, or one of ${supportedLabels().join(", ")})`;
    }
  }
  if (
    r.ratePerSecond !== undefined &&
    (typeof r.ratePerSecond !== "number" || !(r.ratePerSecond > 0 && r.ratePerSecond <= 100_000))
  ) {
    return "ratePerSecond: must be a number above 0 and at most 100000";
  }
  return undefined;
}

/** See the module doc. */
export class SimulatedHealthSystem {
  /** The patients it knows. */
  readonly registry: Registry;
  /** Its receiving side (serve it over MLLP and HTTP). */
  readonly receiver: SandboxReceiver;
  readonly #options: SimulatedHealthSystemOptions;
  readonly #clock: Clock;
  readonly #mischief: Mischief;
  readonly #seed: string;
  #runs = 0;
  readonly #stop = new AbortController();
  #schedule: AbortController | undefined;

  /** A health system with its registry built from the seed. */
  constructor(options: SimulatedHealthSystemOptions) {
    this.#options = options;
    this.#seed = options.seed ?? "sandbox";
    this.#clock = options.clock ?? systemClock;
    this.#mischief = new Mischief(this.#seed);
    this.registry = createRegistry({ seed: this.#seed, size: options.registrySize ?? 200 });
    this.receiver = new SandboxReceiver({
      registry: this.registry,
      mischief: this.#mischief,
      clock: this.#clock,
      log: options.log,
      ...(options.timeZone ? { timeZone: options.timeZone } : {}),
    });
  }

  /** The misbehaviour in force. */
  get misbehaviour(): Misbehaviour {
    return this.#mischief.settings;
  }

  /** Changes the misbehaviour (unnamed settings stay); throws RangeError on a bad value. */
  misbehave(m: Partial<Misbehaviour>): Misbehaviour {
    const now = this.#mischief.set(m);
    this.#options.log.info("sandbox.misbehaviour", { ...now });
    return now;
  }

  /** The messages a request would send (generated lazily, in order). */
  *messages(r: Pick<SendRequest, "event" | "count" | "seed">): Generator<SyntheticMessage> {
    const run = ++this.#runs;
    // A prefix of its own for every run: the engine dedupes on MSH-10.
    const prefix = `S${this.#clock.now().toString(36).toUpperCase()}${run.toString(36)}-`;
    const sim = new Simulator({
      seed: r.seed ?? `${this.#seed}:${prefix}`,
      registry: this.registry,
      controlIdPrefix: prefix.slice(0, 12),
      start: new Date(this.#clock.now()),
    });
    const specs = r.event === undefined ? [] : resolveEvents(r.event);
    for (let i = 0; i < r.count; i++) {
      yield specs.length === 0 ? sim.next() : sim.event(specs[i % specs.length]!);
    }
  }

  /**
   * Generates and sends `count` messages; resolves with the report once every answer came.
   *
   * @throws {RangeError} when the request is not valid ({@link checkSendRequest}).
   */
  async send(r: SendRequest): Promise<SendReport> {
    const problem = checkSendRequest(r);
    if (problem) throw new RangeError(problem);
    const where = "mllp" in r.to ? `${r.to.mllp.host}:${r.to.mllp.port}` : r.to.https.url;
    this.#options.log.info("sandbox.send", {
      event: r.event ?? "stream",
      count: r.count,
      to: where,
    });
    const signal = r.signal ? AbortSignal.any([r.signal, this.#stop.signal]) : this.#stop.signal;
    const report = await sendMessages({
      to: r.to,
      messages: this.messages(r),
      connector: this.#options.connector,
      ...(this.#options.http ? { http: this.#options.http } : {}),
      clock: this.#clock,
      log: this.#options.log,
      mischief: this.#mischief,
      ...(r.ratePerSecond ? { ratePerSecond: r.ratePerSecond } : {}),
      signal,
    });
    this.#options.log.info("sandbox.sent", {
      to: where,
      generated: report.generated,
      accepted: report.accepted,
      refused: report.refused,
      failed: report.failed,
      durationMs: report.durationMs,
    });
    return report;
  }

  /**
   * Sends `count` messages every `everyMs` until {@link SimulatedHealthSystem.stop} (or another
   * schedule replaces this one). Each round's report goes to `onReport`.
   */
  schedule(
    r: Omit<SendRequest, "signal"> & { everyMs: number },
    onReport?: (report: SendReport) => void,
  ): void {
    const problem = checkSendRequest(r);
    if (problem) throw new RangeError(problem);
    if (!(r.everyMs >= 100)) throw new RangeError("everyMs: at least 100");
    this.#schedule?.abort();
    const ctl = new AbortController();
    this.#schedule = ctl;
    const signal = AbortSignal.any([ctl.signal, this.#stop.signal]);
    const loop = async () => {
      while (!signal.aborted) {
        await this.#clock.sleep(r.everyMs, signal);
        if (signal.aborted) break;
        const report = await this.send({ ...r, signal });
        onReport?.(report);
      }
    };
    // send() never rejects; a throwing onReport must not become an unhandled rejection.
    loop().catch((error) => this.#options.log.error("sandbox.schedule-failed", { reason: error }));
  }

  /** Stops the schedule and any send in progress. */
  stop(): void {
    this.#stop.abort();
  }
}

export type { SendReport, SendTarget };
