/**
 * The simulated health system's receiving side: what the engine delivers to it over MLLP (an
 * {@link MllpInbox}: a transport serves it) and over HTTPS ({@link SandboxReceiver.receiveJson}:
 * a transport routes requests to it). Each message is checked against the data model: HL7 v2 is
 * translated and the JSON validated, JSON is validated; the answer is `AA` / `200`, or `AE` /
 * `422` listing every problem, so a developer sees their mistakes. Patient queries (`QBP^Q22`,
 * `QRY^A19`, `PatientSearch.Query`) are answered from the registry. Misbehaviour on request.
 *
 * @module
 */

import {
  DataModelError,
  DataModelValidationError,
  formatIssue,
  hl7ToJson,
  identifyHl7,
  validateDataModel,
  type ValidationIssue,
} from "../../codecs/datamodel/mod.ts";
import {
  type AckError,
  buildAckText,
  buildNakForUnparsable,
  type Hl7Message,
  newControlId,
  tryParseHl7,
} from "../../codecs/hl7v2/mod.ts";
import {
  answerHl7Query,
  answerJsonSearch,
  isPatientQuery,
  type Registry,
} from "../../codecs/synthetic/mod.ts";
import type { InboxReply, MllpInbox, ReceivedFrame } from "../ports.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Mischief } from "./misbehaviour.ts";

/** How a received message was answered. */
export type ReceiptOutcome = "accepted" | "rejected" | "answered" | "nacked" | "dropped";

/** One message received (kept for the admin view and tests; the newest last). */
export interface Receipt {
  readonly at: number;
  readonly via: "mllp" | "https";
  /** `ADT^A01`, `PatientAdmin.Arrival`, `PatientSearch.Query`… or `unknown`. */
  readonly label: string;
  readonly controlId?: string;
  readonly outcome: ReceiptOutcome;
  /** Why it was rejected (data-model problems), or what misbehaviour did. */
  readonly problems: readonly string[];
}

/** What a JSON request gets back. */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** What {@link SandboxReceiver} needs. */
export interface SandboxReceiverOptions {
  readonly registry: Registry;
  readonly mischief: Mischief;
  readonly clock: Clock;
  readonly log: Logger;
  /** IANA zone of HL7 times without offset (default UTC). */
  readonly timeZone?: string;
  /** Largest frame or body accepted (default 30 MiB). */
  readonly maxBytes?: number;
  /** Receipts kept (default 200). */
  readonly keep?: number;
  /** Log name of this party (default `sandbox.ehr`). */
  readonly name?: string;
}

const MAX_ERRS = 20;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** See the module doc. */
export class SandboxReceiver implements MllpInbox {
  readonly maxFrameBytes: number;
  readonly #options: SandboxReceiverOptions;
  readonly #receipts: Receipt[] = [];
  readonly #counts = new Map<string, number>();
  #total = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  /** A receiver answering from `options.registry`. */
  constructor(options: SandboxReceiverOptions) {
    this.#options = options;
    this.maxFrameBytes = options.maxBytes ?? 30 * 1024 * 1024;
  }

  /** The receipts kept, oldest first. */
  receipts(): Receipt[] {
    return [...this.#receipts];
  }

  /** Counts by `outcome` and by `outcome label` (`accepted ADT^A01`). */
  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  /** Messages received so far. */
  get total(): number {
    return this.#total;
  }

  /** Resolves once `n` messages in all have been received (or `signal` aborts). */
  whenReceived(n: number, signal?: AbortSignal): Promise<void> {
    if (this.#total >= n || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { n, resolve };
      this.#waiters.push(w);
      signal?.addEventListener("abort", () => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        resolve();
      }, { once: true });
    });
  }

  #record(r: Receipt): void {
    this.#receipts.push(r);
    if (this.#receipts.length > (this.#options.keep ?? 200)) this.#receipts.shift();
    this.#total++;
    for (const key of [r.outcome, `${r.outcome} ${r.label}`]) {
      this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    }
    const fields = {
      via: r.via,
      label: r.label,
      ...(r.controlId ? { controlId: r.controlId } : {}),
      outcome: r.outcome,
    };
    const name = this.#options.name ?? "sandbox.ehr";
    if (r.outcome === "rejected") {
      this.#options.log.warn(`${name}.rejected`, { ...fields, reason: r.problems.join("; ") });
    } else if (r.outcome === "nacked" || r.outcome === "dropped") {
      this.#options.log.info(`${name}.misbehaved`, { ...fields, reason: r.problems.join("; ") });
    } else this.#options.log.debug(`${name}.received`, fields);
    const ready = this.#waiters.filter((w) => this.#total >= w.n);
    this.#waiters = this.#waiters.filter((w) => this.#total < w.n);
    for (const w of ready) w.resolve();
  }

  /** The answer to a frame over {@link SandboxReceiver.maxFrameBytes}. */
  oversize(info: { size: number; limit: number }): Uint8Array {
    const reason = `message of ${info.size} bytes is over the limit of ${info.limit}`;
    return encoder.encode(buildNakForUnparsable({ reason, code: "AR" }).encode());
  }

  /** Connections stay open while the engine keeps sending (10 minutes of silence closes). */
  idleTimeoutMs(): number {
    return 600_000;
  }

  /** Answers one frame; never rejects. */
  async receive(frame: ReceivedFrame): Promise<InboxReply> {
    const text = decoder.decode(frame.payload);
    const parsed = tryParseHl7(text);
    const at = this.#options.clock.now();
    if (!parsed.ok) {
      const reason = `not an HL7 v2 message: ${parsed.error.message}`;
      this.#record({ at, via: "mllp", label: "unknown", outcome: "rejected", problems: [reason] });
      return { reply: encoder.encode(buildNakForUnparsable({ reason, raw: text }).encode()) };
    }
    const msg = parsed.message;
    const label = `${msg.get("MSH-9.1") ?? ""}^${msg.get("MSH-9.2") ?? ""}`;
    const controlId = msg.get("MSH-10") ?? "";
    const base = { at, via: "mllp" as const, label, controlId };
    const ack = (code: "AA" | "AE", errors: AckError[] = [], text?: string) =>
      encoder.encode(buildAckText(msg, {
        code,
        controlId: newControlId(),
        now: new Date(this.#options.clock.now()),
        ...(errors.length > 0 ? { error: errors } : {}),
        ...(text ? { text } : {}),
      }));
    const reaction = this.#options.mischief.react();
    const delay = this.#options.mischief.delayMs();
    if (delay > 0) await this.#options.clock.sleep(delay);
    if (reaction === "drop") {
      this.#record({ ...base, outcome: "dropped", problems: ["simulated dropped connection"] });
      return { close: true };
    }
    if (reaction === "nack") {
      const why = "simulated NACK (sandbox misbehaviour)";
      this.#record({ ...base, outcome: "nacked", problems: [why] });
      return { reply: ack("AE", [{ code: "207", text: why }]) };
    }
    if (isPatientQuery(msg)) {
      const answer = answerHl7Query(this.#options.registry, msg, {
        now: new Date(this.#options.clock.now()),
        controlId: newControlId(),
      });
      const ok = answer.matches !== undefined;
      this.#record({
        ...base,
        outcome: ok ? "answered" : "rejected",
        problems: ok ? [`${answer.matches} patient(s)`] : ["query without usable criteria"],
      });
      return { reply: encoder.encode(answer.text) };
    }
    const problems = this.#checkHl7(msg);
    if (problems.length > 0) {
      this.#record({ ...base, outcome: "rejected", problems: problems.map((p) => p.text) });
      return { reply: ack("AE", problems.slice(0, MAX_ERRS)) };
    }
    const ev = identifyHl7(msg)!;
    this.#record({
      ...base,
      label: `${label} ${ev.dataModel}.${ev.eventType}`,
      outcome: "accepted",
      problems: [],
    });
    return { reply: ack("AA") };
  }

  /** The data-model problems of an HL7 message, as ACK errors (none: it is valid). */
  #checkHl7(msg: Hl7Message): AckError[] {
    try {
      const json = hl7ToJson(msg, { timeZone: this.#options.timeZone ?? "UTC", extensions: false });
      const checked = validateDataModel(json);
      if (checked.ok) return [];
      return checked.issues.map((i) => ({ code: "102", text: formatIssue(i) }));
    } catch (error) {
      if (error instanceof DataModelError) {
        return [{
          code: error.hl7?.condition ?? "207",
          text: error.message,
          ...(error.hl7?.location ? { location: error.hl7.location } : {}),
        }];
      }
      return [{ code: "207", text: error instanceof Error ? error.message : String(error) }];
    }
  }

  /**
   * Answers a JSON request (`POST` to the sandbox's endpoint): a `PatientSearch.Query` with the
   * registry's patients, any other data-model message with `200` when it is valid, `422` with
   * every problem when not, `400` when it is not JSON.
   */
  async receiveJson(body: string): Promise<JsonAnswer> {
    const at = this.#options.clock.now();
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (error) {
      const reason = `not JSON: ${error instanceof Error ? error.message : String(error)}`;
      this.#record({ at, via: "https", label: "unknown", outcome: "rejected", problems: [reason] });
      return { status: 400, body: { error: reason } };
    }
    const meta = (json as { Meta?: Record<string, unknown> } | null)?.Meta;
    const label = `${meta?.DataModel ?? "?"}.${meta?.EventType ?? "?"}`;
    const base = { at, via: "https" as const, label };
    const reaction = this.#options.mischief.react();
    const delay = this.#options.mischief.delayMs();
    if (delay > 0) await this.#options.clock.sleep(delay);
    if (reaction !== "accept") {
      // An HTTP answer cannot drop its connection from here: both misbehaviours are a 503.
      const why = reaction === "drop" ? "simulated outage" : "simulated failure";
      this.#record({
        ...base,
        outcome: reaction === "drop" ? "dropped" : "nacked",
        problems: [why],
      });
      return {
        status: reaction === "drop" ? 503 : 500,
        body: { error: `${why} (sandbox misbehaviour)` },
      };
    }
    if (meta?.DataModel === "PatientSearch") {
      const answer = answerJsonSearch(this.#options.registry, json, new Date(at));
      if (!answer.ok) return this.#rejectJson(base, answer.issues);
      this.#record({ ...base, outcome: "answered", problems: [`${answer.matches} patient(s)`] });
      return { status: 200, body: answer.response };
    }
    const checked = validateDataModel(json);
    if (!checked.ok) return this.#rejectJson(base, checked.issues);
    this.#record({ ...base, outcome: "accepted", problems: [] });
    return { status: 200, body: { Meta: { ...meta, Errors: [] }, Accepted: true } };
  }

  #rejectJson(
    base: { at: number; via: "https"; label: string },
    issues: readonly ValidationIssue[],
  ): JsonAnswer {
    const problems = issues.map(formatIssue);
    this.#record({ ...base, outcome: "rejected", problems });
    return {
      status: 422,
      body: { error: new DataModelValidationError(issues).message, issues },
    };
  }
}
