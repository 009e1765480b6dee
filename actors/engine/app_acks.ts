/**
 * Enhanced-mode application acknowledgments (HL7 v2 MSH-16). The inbox answers CA once a message
 * is durable; when the sender asked for an application ACK, it registers here and the transport
 * waits for the verdict the inbound actor gives after the application step (AA once routed or
 * filtered, AE when it cannot be parsed or mapped), then writes it on the same connection.
 * Waiters live in memory: after a restart, or once the sender's connection is gone, the verdict
 * is only in the logs.
 * @module
 */

/** The application step's verdict on one message. */
export interface AppVerdict {
  code: "AA" | "AE" | "AR";
  /** Why, for AE/AR. */
  text?: string;
  /** ERR-3 (HL7 table 0357) for AE/AR: the sender's fault when known, else 207. */
  errorCode?: string;
  /** ERR-2: the segment or field at fault. */
  location?: string;
}

interface Waiter {
  build(verdict: AppVerdict): Uint8Array | undefined;
  resolve(bytes: Uint8Array | undefined): void;
  timer: ReturnType<typeof setTimeout>;
}

/** What {@link AppAcks} is built with. */
export interface AppAcksOptions {
  /** Waiters are dropped after this long without a verdict, default 10 minutes. */
  timeoutMs?: number;
  /**
   * Destinations whose receiver gives the application verdict (agent mode's `forward`): a message
   * routed to one of them waits for {@link AppAcks.settleFromPeer} instead of this engine's AA.
   */
  peerVerdicts?: Iterable<string>;
}

/** See the module doc. */
export class AppAcks {
  readonly #waiting = new Map<string, Waiter>();
  readonly #timeoutMs: number;
  readonly #peerVerdicts: ReadonlySet<string>;

  /** See {@link AppAcksOptions}. */
  constructor(options: AppAcksOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 600_000;
    this.#peerVerdicts = new Set(options.peerVerdicts ?? []);
  }

  /** Whether an application ACK waits for message `messageId`'s verdict. */
  waiting(messageId: string): boolean {
    return this.#waiting.has(messageId);
  }

  /** Application ACKs still waiting for a verdict. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Waits for message `messageId`'s verdict; `build` turns it into the ACK to send, or undefined
   * when the sender's MSH-16 does not want this one (ER: errors only; SU: successes only).
   */
  expect(
    messageId: string,
    build: (verdict: AppVerdict) => Uint8Array | undefined,
  ): Promise<Uint8Array | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(messageId);
        resolve(undefined);
      }, this.#timeoutMs);
      // A waiting ACK must not keep a stopping process alive.
      Deno.unrefTimer(timer);
      this.#waiting.set(messageId, { build, resolve, timer });
    });
  }

  /**
   * Gives message `messageId`'s verdict; a no-op when nobody waits for it. An AA for a message
   * routed to a destination of `peerVerdicts` (its ids in `destinations`) is not final: the
   * waiter stays for that receiver's verdict.
   */
  settle(messageId: string, verdict: AppVerdict, destinations?: readonly string[]): void {
    if (verdict.code === "AA" && destinations?.some((d) => this.#peerVerdicts.has(d))) return;
    this.settleFromPeer(messageId, verdict);
  }

  /** The verdict a receiver of `peerVerdicts` gave (the central engine's application step). */
  settleFromPeer(messageId: string, verdict: AppVerdict): void {
    const w = this.#waiting.get(messageId);
    if (!w) return;
    this.#waiting.delete(messageId);
    clearTimeout(w.timer);
    w.resolve(w.build(verdict));
  }

  /** Drops the waiter of `messageId`: no application ACK will be sent for it. */
  forget(messageId: string): void {
    const w = this.#waiting.get(messageId);
    if (!w) return;
    this.#waiting.delete(messageId);
    clearTimeout(w.timer);
    w.resolve(undefined);
  }

  /** Drops every waiter (engine stop). */
  clear(): void {
    for (const w of this.#waiting.values()) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.#waiting.clear();
  }
}

/**
 * Whether an acknowledgment of `outcome` is wanted under an MSH-15/MSH-16 value (HL7 table 0155):
 * AL always, NE never, ER only on error or reject, SU only on success.
 */
export function ackWanted(condition: string, outcome: "success" | "error"): boolean {
  switch (condition) {
    case "NE":
      return false;
    case "ER":
      return outcome === "error";
    case "SU":
      return outcome === "success";
    default:
      return true; // AL, or a value the sender should not have sent: answer rather than stay silent
  }
}
