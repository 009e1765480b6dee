/**
 * The engine echo: a destination that accepts anything — any MLLP frame is answered `AA`, any
 * JSON `200` — and sends back what it received to a configured place (an MLLP integration of
 * the engine, or a URL), in arrival order, for round-trip tests. Transports serve it; it sends
 * through the {@link MllpConnector} and {@link HttpSender} ports. The way back is best effort:
 * a failure is logged with its reason and the message is not retried.
 *
 * @module
 */

import { buildAckText, formatHl7Timestamp, tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import { newControlId } from "../../codecs/hl7v2/mod.ts";
import type { HttpSender } from "../https_out/http_client.ts";
import type { MllpConnection, MllpConnector, MllpTarget } from "../mllp_out/connector.ts";
import type { InboxReply, MllpInbox, ReceivedFrame } from "../ports.ts";
import type { Logger } from "../runtime/log.ts";

/** What {@link EngineEcho} needs. */
export interface EngineEchoOptions {
  readonly connector: MllpConnector;
  readonly http?: HttpSender;
  readonly log: Logger;
  /** Where received HL7 goes back (none: it is only acknowledged). */
  readonly returnMllp?: MllpTarget;
  /** Where received JSON goes back, with its headers (none: it is only acknowledged). */
  readonly returnHttps?: { readonly url: string; readonly headers?: Record<string, string> };
  /** Messages waiting to go back at most (default 10 000); more are not echoed, and logged. */
  readonly maxBacklog?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** See the module doc. */
export class EngineEcho implements MllpInbox {
  readonly maxFrameBytes = 30 * 1024 * 1024;
  readonly #options: EngineEchoOptions;
  #chain: Promise<void> = Promise.resolve();
  #backlog = 0;
  #conn: MllpConnection | undefined;
  #received = 0;
  #echoed = 0;
  readonly #stop = new AbortController();

  /** An echo returning to `options.returnMllp` / `options.returnHttps`. */
  constructor(options: EngineEchoOptions) {
    this.#options = options;
  }

  /** Messages received and messages sent back so far. */
  get stats(): { received: number; echoed: number; backlog: number } {
    return { received: this.#received, echoed: this.#echoed, backlog: this.#backlog };
  }

  /** Anything is accepted: `AA`, built from what can be read of the message. */
  receive(frame: ReceivedFrame): Promise<InboxReply> {
    this.#received++;
    const text = decoder.decode(frame.payload);
    const parsed = tryParseHl7(text);
    const reply = parsed.ok
      ? buildAckText(parsed.message, { code: "AA", controlId: newControlId() })
      : `MSH|^~\\&|ENGINE-ECHO||||${
        formatHl7Timestamp(new Date())
      }||ACK|${newControlId()}|P|2.5.1` +
        "\rMSA|AA|";
    if (this.#options.returnMllp) {
      const target = this.#options.returnMllp;
      this.#enqueue(() => this.#sendMllp(target, frame.payload));
    }
    return Promise.resolve({ reply: encoder.encode(reply) });
  }

  /** The answer to an over-size frame is still an accept: the echo accepts anything. */
  oversize(): Uint8Array {
    return encoder.encode(
      `MSH|^~\\&|ENGINE-ECHO||||${formatHl7Timestamp(new Date())}||ACK|${newControlId()}|P|2.5.1` +
        "\rMSA|AA|",
    );
  }

  /** Ten minutes of silence closes a connection. */
  idleTimeoutMs(): number {
    return 600_000;
  }

  /** Any JSON body is accepted (`200`) and sent back to `returnHttps`. */
  receiveJson(body: string): { status: number; body: unknown } {
    this.#received++;
    const back = this.#options.returnHttps;
    if (back && this.#options.http) {
      const http = this.#options.http;
      this.#enqueue(async () => {
        const r = await http.send({
          url: back.url,
          method: "POST",
          headers: { "content-type": "application/json", ...back.headers },
          body,
          timeoutMs: 30_000,
          signal: this.#stop.signal,
        });
        if (r.status < 200 || r.status >= 300) throw new Error(`HTTP ${r.status}`);
      });
    }
    return { status: 200, body: { Accepted: true } };
  }

  /** Stops sending back (what is still waiting is dropped). */
  stop(): void {
    this.#stop.abort();
    this.#conn?.close();
  }

  #enqueue(job: () => Promise<void>): void {
    if (this.#backlog >= (this.#options.maxBacklog ?? 10_000)) {
      this.#options.log.warn("sandbox.echo.backlog-full", { backlog: this.#backlog });
      return;
    }
    this.#backlog++;
    this.#chain = this.#chain.then(async () => {
      try {
        if (!this.#stop.signal.aborted) {
          await job();
          this.#echoed++;
        }
      } catch (error) {
        this.#options.log.warn("sandbox.echo.return-failed", {
          reason: error instanceof Error ? error.message : String(error),
        });
      } finally {
        this.#backlog--;
      }
    });
  }

  async #sendMllp(target: MllpTarget, payload: Uint8Array): Promise<void> {
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(30_000)]);
    if (!this.#conn?.open) {
      this.#conn = await this.#options.connector.connect(target, { timeoutMs: 10_000, signal });
    }
    const conn = this.#conn;
    try {
      await conn.send(payload);
      const got = await conn.receive(signal);
      if (got.type !== "frame") {
        throw new Error(
          got.type === "closed" ? `connection closed: ${got.reason}` : "no ACK in time",
        );
      }
      const ack = tryParseHl7(decoder.decode(got.payload));
      const code = ack.ok ? ack.message.get("MSA-1") : undefined;
      if (code !== "AA" && code !== "CA") {
        throw new Error(`${target.host}:${target.port} answered ${code ?? "something not HL7"}`);
      }
    } catch (error) {
      conn.close();
      throw error;
    }
  }
}
