/**
 * The engine's destination, in the bench's own process (a counting MLLP receiver answering AA),
 * and a probe sending its own messages beside the load for latency measured from outside.
 * @module
 */

import { ackFrame, mshControlId, serveMllpReplies } from "../harness.ts";
import { HOST, sleep, TOOLS } from "./children.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The engine's destination: frames MLLP, answers `AA` with MSA-2 = the MSH-10 it got, counts.
 * In-process and minimal (no HL7 parse) so that it takes as little of the 2 cores as possible
 * from the engine, and so that counting needs no inter-process protocol.
 */
export class Receiver {
  /** Frames answered so far. */
  count = 0;
  /** Frames whose MSH-10 had been seen before (only while {@link trackIds} is on). */
  duplicates = 0;
  /** Arrival time (`Date.now()`) by MSH-10, of the MSH-10s starting with {@link arrivalPrefix}. */
  readonly arrivals = new Map<string, number>();
  /** Records arrival times of the MSH-10s that start with it (none when undefined). */
  arrivalPrefix: string | undefined;
  /** Counts duplicates by MSH-10 (keeps every id seen). */
  trackIds = true;
  readonly #seen = new Set<string>();
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();

  private constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    void this.#accept();
  }

  /** Listens on 127.0.0.1, port 0. */
  static start(): Receiver {
    return new Receiver(Deno.listen({ hostname: HOST, port: 0 }));
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Stops listening and closes every connection. */
  close(): void {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        void serveMllpReplies(conn, (m) => this.#received(m)).finally(() =>
          this.#conns.delete(conn)
        );
      }
    } catch { /* closed */ }
  }

  #received(message: Uint8Array): Uint8Array {
    const id = mshControlId(message);
    this.count++;
    if (this.trackIds) {
      if (this.#seen.has(id)) this.duplicates++;
      else this.#seen.add(id);
    }
    if (this.arrivalPrefix !== undefined && id.startsWith(this.arrivalPrefix)) {
      this.arrivals.set(id, Date.now());
    }
    return ackFrame(id);
  }
}

/**
 * Waits until the receiver has counted `target` frames, for at most `ms` and while `alive()`.
 * Returns the seconds it took (to the last frame) and whether it got there.
 */
export async function waitDelivered(
  receiver: Receiver,
  target: number,
  ms: number,
  alive: () => boolean = () => true,
): Promise<{ seconds: number; done: boolean }> {
  const t0 = performance.now();
  let lastCount = receiver.count;
  let lastAt = t0;
  while (receiver.count < target) {
    const now = performance.now();
    if (now - t0 > ms || !alive()) return { seconds: (now - t0) / 1000, done: false };
    if (receiver.count !== lastCount) {
      lastCount = receiver.count;
      lastAt = now;
    }
    await sleep(5);
  }
  // The time the last frame came, not the time the poll saw it.
  return { seconds: (Math.max(lastAt, performance.now() - 5) - t0) / 1000, done: true };
}

/**
 * A slow sender of its own messages beside the load, for latency measured from outside while the
 * engine runs: one connection, one message in flight, `rate` per second, MSH-10
 * `PROBE-<tag>-<n>`, the send time of each kept; the {@link Receiver} (with
 * `arrivalPrefix = "PROBE-"`) keeps arrivals.
 */
export class Probe {
  /** Send time (`Date.now()`) by MSH-10, until {@link take} removes it. */
  readonly sent = new Map<string, number>();
  /** Messages ACKed AA. */
  acked = 0;
  /** Messages not answered AA (or the connection failed). */
  failed = 0;
  #stopped = false;
  #conn: Deno.TcpConn | undefined;
  readonly #done: Promise<void>;

  private constructor(port: number, rate: number, text: string) {
    this.#done = this.#run(port, rate, text).catch(() => {
      this.failed++;
    });
  }

  /** Connects to `port` and sends `rate` messages per second until {@link stop}. */
  static async start(port: number, rate: number): Promise<Probe> {
    const gen = await import(new URL("hl7corpus.mjs", TOOLS).href) as {
      corpus(n: number, seed?: number): string[];
    };
    return new Probe(port, rate, gen.corpus(2, 11)[1]!);
  }

  /** Stops after the message in flight (closing the connection if its ACK takes over 30 s). */
  async stop(): Promise<void> {
    this.#stopped = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 30_000));
    if (await Promise.race([this.#done, late]) === "late") {
      try {
        this.#conn?.close();
      } catch { /* closed */ }
      await this.#done;
    }
    clearTimeout(timer);
  }

  /**
   * Sent → delivered in ms of the probes sent before `until` (all of them, arrived or not, are
   * then forgotten); one still on its way counts with its age so far (`pending`).
   */
  take(receiver: Receiver, until: number): { sorted: number[]; pending: number } {
    const out: number[] = [];
    let pending = 0;
    const now = Date.now();
    for (const [id, at] of this.sent) {
      if (at >= until) continue;
      const arrived = receiver.arrivals.get(id);
      if (arrived === undefined) pending++;
      out.push((arrived ?? now) - at);
      receiver.arrivals.delete(id);
      this.sent.delete(id);
    }
    return { sorted: out.sort((a, b) => a - b), pending };
  }

  async #run(port: number, rate: number, text: string): Promise<void> {
    const conn = this.#conn = await Deno.connect({ hostname: HOST, port });
    conn.setNoDelay(true);
    const fields = text.split("|");
    const buf = new Uint8Array(16 * 1024);
    // Unique per probe: the engine answers a repeated MSH-10 as a duplicate and sends it nowhere.
    const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const start = performance.now();
    try {
      for (let n = 0; !this.#stopped; n++) {
        const due = start + (n * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const id = `PROBE-${tag}-${n}`;
        fields[9] = id;
        const frame = encoder.encode(`\x0b${fields.join("|")}\x1c\r`);
        this.sent.set(id, Date.now());
        let off = 0;
        while (off < frame.length) off += await conn.write(frame.subarray(off));
        let answer = "";
        while (!answer.includes("\x1c")) {
          const got = await conn.read(buf);
          if (got === null) throw new Error("the engine closed the probe's connection");
          answer += decoder.decode(buf.subarray(0, got));
        }
        if (answer.includes(`MSA|AA|${id}`) || answer.includes(`MSA|CA|${id}`)) this.acked++;
        else this.failed++;
      }
    } finally {
      try {
        conn.close();
      } catch { /* closed by stop() */ }
    }
  }
}
