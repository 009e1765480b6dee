/**
 * Sending generated messages: HL7 v2 over one MLLP connection (each message waits for its ACK,
 * MSA-2 checked), or data-model JSON `POST`ed to a URL. Paced to a rate when asked, bounded in
 * time, never rejecting: what went wrong is counted and its first reasons kept.
 *
 * @module
 */

import { tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import type { SyntheticMessage } from "../../codecs/synthetic/mod.ts";
import { describeResponse, type HttpSender } from "../https_out/http_client.ts";
import type { MllpConnection, MllpConnector, MllpTarget } from "../mllp_out/connector.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Mischief } from "./misbehaviour.ts";

/** Headers of a JSON post: fixed, or made for each request (an access token that expires). */
export type SendHeaders = Record<string, string> | (() => Promise<Record<string, string>>);

/** Where generated messages go. */
export type SendTarget =
  | { readonly mllp: MllpTarget }
  | { readonly https: { readonly url: string; readonly headers?: SendHeaders } };

/** How a run went. */
export interface SendReport {
  /** Messages generated. */
  generated: number;
  /** Frames or requests sent (duplicates included). */
  sent: number;
  /** Answered `AA`/`CA` or `2xx`. */
  accepted: number;
  /** Answered with anything else. */
  refused: number;
  /** No answer: connection refused or lost, timeout. */
  failed: number;
  /** Messages sent a second time on purpose (misbehaviour). */
  duplicates: number;
  /** Messages generated per label (`ADT^A01`: 3). */
  byLabel: Record<string, number>;
  /** The first reasons of refusals and failures. */
  errors: string[];
  durationMs: number;
}

/** What {@link sendMessages} needs. */
export interface SendOptions {
  readonly to: SendTarget;
  readonly messages: Iterable<SyntheticMessage>;
  readonly connector: MllpConnector;
  readonly http?: HttpSender;
  readonly clock: Clock;
  readonly log: Logger;
  readonly mischief: Mischief;
  /** Messages per second (default: as fast as answers come). */
  readonly ratePerSecond?: number;
  /** How long to wait for one answer (default 30 s). */
  readonly answerTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

const MAX_ERRORS = 10;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Sends every message in order and reports; never rejects. */
export async function sendMessages(options: SendOptions): Promise<SendReport> {
  const { clock, to } = options;
  const started = clock.now();
  const report: SendReport = {
    generated: 0,
    sent: 0,
    accepted: 0,
    refused: 0,
    failed: 0,
    duplicates: 0,
    byLabel: {},
    errors: [],
    durationMs: 0,
  };
  const note = (reason: string) => {
    if (report.errors.length < MAX_ERRORS) report.errors.push(reason);
  };
  const timeoutMs = options.answerTimeoutMs ?? 30_000;
  const link = "mllp" in to ? new MllpLink(options.connector, to.mllp, timeoutMs) : undefined;
  try {
    for (const m of options.messages) {
      if (options.signal?.aborted) break;
      if (options.ratePerSecond && options.ratePerSecond > 0) {
        const due = started + report.generated * 1000 / options.ratePerSecond;
        const wait = due - clock.now();
        if (wait > 0) await clock.sleep(wait, options.signal);
      }
      report.generated++;
      report.byLabel[m.label] = (report.byLabel[m.label] ?? 0) + 1;
      const times = options.mischief.duplicate() ? 2 : 1;
      if (times === 2) report.duplicates++;
      for (let i = 0; i < times; i++) {
        report.sent++;
        const r = link
          ? await link.send(m, options.signal)
          : await postJson(options, (to as Extract<SendTarget, { https: unknown }>).https, m);
        if (r.ok) report.accepted++;
        else {
          if (r.kind === "refused") report.refused++;
          else report.failed++;
          note(`${m.controlId} ${m.label}: ${r.reason}`);
          options.log.warn("sandbox.send-failed", {
            controlId: m.controlId,
            label: m.label,
            reason: r.reason,
          });
        }
      }
    }
  } finally {
    link?.close();
  }
  report.durationMs = clock.now() - started;
  return report;
}

type Outcome = { ok: true } | { ok: false; kind: "refused" | "failed"; reason: string };

/** One MLLP connection, reopened when it is lost. */
class MllpLink {
  #conn: MllpConnection | undefined;

  constructor(
    readonly connector: MllpConnector,
    readonly target: MllpTarget,
    readonly timeoutMs: number,
  ) {}

  async send(m: SyntheticMessage, signal?: AbortSignal): Promise<Outcome> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const both = signal ? AbortSignal.any([signal, deadline]) : deadline;
    try {
      if (!this.#conn?.open) {
        this.#conn = await this.connector.connect(this.target, {
          timeoutMs: this.timeoutMs,
          signal: both,
        });
      }
      await this.#conn.send(encoder.encode(m.hl7));
      const got = await this.#conn.receive(both);
      if (got.type === "aborted") {
        this.close();
        return { ok: false, kind: "failed", reason: "no ACK in time" };
      }
      if (got.type === "closed") {
        this.close();
        return { ok: false, kind: "failed", reason: `connection closed: ${got.reason}` };
      }
      return checkAck(decoder.decode(got.payload), m.controlId);
    } catch (error) {
      this.close();
      return { ok: false, kind: "failed", reason: reasonOf(error) };
    }
  }

  close(): void {
    this.#conn?.close();
    this.#conn = undefined;
  }
}

function checkAck(text: string, controlId: string): Outcome {
  const parsed = tryParseHl7(text);
  if (!parsed.ok) return { ok: false, kind: "refused", reason: "the answer is not HL7 v2" };
  const ack = parsed.message;
  const code = ack.get("MSA-1") ?? "";
  if (ack.get("MSA-2") !== controlId) {
    return {
      ok: false,
      kind: "refused",
      reason: `ACK for ${JSON.stringify(ack.get("MSA-2") ?? "")}, not ${controlId}`,
    };
  }
  if (code === "AA" || code === "CA") return { ok: true };
  const why = [ack.get("MSA-3"), ack.get("ERR-8"), ack.get("ERR-3.2")].find((t) => t);
  return { ok: false, kind: "refused", reason: `${code || "no MSA-1"}${why ? `: ${why}` : ""}` };
}

async function postJson(
  options: SendOptions,
  target: { url: string; headers?: SendHeaders },
  m: SyntheticMessage,
): Promise<Outcome> {
  if (!options.http) return { ok: false, kind: "failed", reason: "no HTTP sender" };
  try {
    const headers = typeof target.headers === "function" ? await target.headers() : target.headers;
    const response = await options.http.send({
      url: target.url,
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(m.json),
      timeoutMs: options.answerTimeoutMs ?? 30_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (response.status >= 200 && response.status < 300) return { ok: true };
    return { ok: false, kind: "refused", reason: describeResponse(response) };
  } catch (error) {
    return { ok: false, kind: "failed", reason: reasonOf(error) };
  }
}
