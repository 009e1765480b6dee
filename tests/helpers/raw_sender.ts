/**
 * A raw MLLP sender on a real loopback socket, for testing the engine's listeners the way a
 * misbehaving hospital system would: the test decides exactly which bytes go out in which write
 * (split frames, pipelined frames, garbage between frames, a connection dropped mid-frame), and
 * every frame the engine answers is decoded in the background with the project's MLLP decoder.
 * @module
 */

import { parseHl7 } from "../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";

const text = new TextDecoder();

/** The parts of an ACK a test asserts on. */
export interface AckSummary {
  /** MSA-1: AA, AE, AR, CA… */
  code: string | undefined;
  /** MSA-2: the control id it answers. */
  msa2: string | undefined;
  /** ERR-8 (or MSA-3 when there is no ERR-8): the reason of a negative ACK. */
  reason: string | undefined;
  /** The ACK's own MSH-10. */
  controlId: string | undefined;
}

/** Reads MSA-1, MSA-2, the reason and MSH-10 of an ACK payload. */
export function summarizeAck(payload: Uint8Array): AckSummary {
  const m = parseHl7(text.decode(payload));
  return {
    code: m.get("MSA-1"),
    msa2: m.get("MSA-2"),
    reason: m.get("ERR-8") ?? m.get("MSA-3"),
    controlId: m.get("MSH-10"),
  };
}

/** `code:msa2` of an ACK payload, handy to compare sequences of ACKs. */
export function ackKey(payload: Uint8Array): string {
  const s = summarizeAck(payload);
  return `${s.code}:${s.msa2}`;
}

/** The bytes of `parts` one after another. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A framed message (start block, payload, FS CR). */
export function frameOf(message: string | Uint8Array): Uint8Array {
  return encodeMllp(message);
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** See the module doc. */
export class RawMllpSender {
  readonly #conn: Deno.TcpConn;
  readonly #decoder = new MllpDecoder();
  readonly #reading: Promise<void>;
  #closedByUs = false;
  #ended = false;
  #endError: unknown;
  /** Every frame the engine sent back, in order (payloads without the MLLP blocks). */
  readonly frames: Uint8Array[] = [];
  /** Bytes from the engine that were not inside a frame. */
  strayBytes = 0;
  /** Wakes whoever waits for a new frame or the end of the connection. */
  #waiters = new Set<() => void>();

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reading = this.#readLoop();
  }

  /** Connects to an MLLP listener on loopback, with Nagle off so each write goes out at once. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawMllpSender> {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return new RawMllpSender(conn);
  }

  /** The local `ip:port` of this connection. */
  get local(): string {
    const a = this.#conn.localAddr as Deno.NetAddr;
    return `${a.hostname}:${a.port}`;
  }

  /** True once the engine closed its side (EOF or reset seen) or we closed ours. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The error the read side ended with, if it did not end with a clean EOF. */
  get endError(): unknown {
    return this.#endError;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        for (const e of this.#decoder.push(buf.slice(0, n))) {
          if (e.type === "frame") this.frames.push(e.payload);
          else if (e.type === "skipped") this.strayBytes += e.bytes;
        }
        this.#wake();
      }
    } catch (error) {
      if (!this.#closedByUs) this.#endError = error;
    }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  /** Resolves once `done()` holds (checked after every read), or rejects after `timeoutMs`. */
  async #until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let wake: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.#waiters.add(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiters.delete(wake!);
    }
  }

  /** Writes all of `bytes` (one or more `write` calls only if the kernel takes fewer). */
  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  /** Writes each chunk as its own write, waiting `gapMs` between them (0: no wait). */
  async writeEach(chunks: Iterable<Uint8Array>, gapMs = 0): Promise<void> {
    let first = true;
    for (const c of chunks) {
      if (!first && gapMs > 0) await sleep(gapMs);
      first = false;
      await this.write(c);
    }
  }

  /** Waits until `count` frames in all have come back; returns them from index `from`. */
  async frameCount(count: number, from = 0, timeoutMs = 10_000): Promise<Uint8Array[]> {
    await this.#until(
      `${count} frames back (have ${this.frames.length})`,
      () => this.frames.length >= count || this.#ended,
      timeoutMs,
    );
    if (this.frames.length < count) {
      throw new Error(
        `connection ended after ${this.frames.length} of ${count} frames: ${
          String(this.#endError ?? "EOF")
        }`,
      );
    }
    return this.frames.slice(from);
  }

  /** Sends one message framed and waits for the next answer. */
  async request(message: string | Uint8Array, timeoutMs = 10_000): Promise<Uint8Array> {
    const n = this.frames.length;
    await this.write(frameOf(message));
    const [reply] = await this.frameCount(n + 1, n, timeoutMs);
    return reply!;
  }

  /** Waits until the engine closes the connection. */
  async closedByPeer(timeoutMs = 10_000): Promise<void> {
    await this.#until("the engine to close the connection", () => this.#ended, timeoutMs);
  }

  /** Closes our side (no-op if already done) and waits for the read loop to finish. */
  async close(): Promise<void> {
    if (!this.#closedByUs) {
      this.#closedByUs = true;
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }
    await this.#reading;
  }
}
