/**
 * Hostile and faulty peers on real loopback sockets, for the robustness suite: an MLLP client that
 * can reset its connection (RST, through `node:net`'s `resetAndDestroy`) at any phase of a
 * session, over plain TCP or TLS (`node:tls`); bursts of connections reset right after connecting;
 * trickled writes; random bytes; and raw HTTP exchanges with huge headers, stalled headers or
 * stalled bodies. Every wait is bounded in time.
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";
import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";

const encoder = new TextEncoder();
/** How many received bytes a peer keeps for {@link HostilePeer.rawText}. */
const RAW_KEPT = 64 * 1024;

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** How to connect a {@link HostilePeer}. */
export interface PeerOptions {
  /** Connect with TLS, trusting this CA (PEM); the server name checked is `localhost`. */
  tlsCa?: string;
  /** A local loopback address to connect from (e.g. `127.0.0.2`), to look like another peer. */
  localAddress?: string;
  /** Time allowed for the connection (and TLS handshake), default 5000 ms. */
  timeoutMs?: number;
}

/** An MLLP peer that can misbehave at every phase of a session; see the module doc. */
export class HostilePeer {
  readonly #socket: net.Socket;
  readonly #decoder = new MllpDecoder();
  readonly #waiters = new Set<() => void>();
  readonly #closed: Promise<void>;
  /** Every frame the engine sent back, in order (payloads only). */
  readonly frames: Uint8Array[] = [];
  /** Bytes received from the engine, framed or not. */
  bytesReceived = 0;
  /** True once the connection is over (either side). */
  ended = false;
  /** Set when the engine's side ended in an error (e.g. `ECONNRESET`) rather than a clean EOF. */
  error: (Error & { code?: string }) | undefined;
  #resetByUs = false;
  readonly #raw: Uint8Array[] = [];
  readonly #localPort: number;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    // Read now: a closed socket no longer knows its port.
    this.#localPort = socket.localPort ?? 0;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      if (this.bytesReceived < RAW_KEPT) this.#raw.push(new Uint8Array(chunk));
      this.bytesReceived += chunk.length;
      for (const e of this.#decoder.push(new Uint8Array(chunk))) {
        if (e.type === "frame") this.frames.push(e.payload);
      }
      this.#wake();
    });
    socket.on("error", (error: Error) => {
      if (!this.#resetByUs) this.error = error;
    });
    this.#closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.ended = true;
        this.#wake();
        resolve();
      });
    });
  }

  /** Connects to `port` on 127.0.0.1 (plain, or TLS with `tlsCa`). */
  static connect(port: number, options: PeerOptions = {}): Promise<HostilePeer> {
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const base = {
        host: "127.0.0.1",
        port,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      };
      const socket: net.Socket = options.tlsCa
        ? tls.connect({ ...base, ca: options.tlsCa, servername: "localhost" })
        : net.connect(base);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to port ${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      socket.once("error", fail);
      socket.once(options.tlsCa ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        socket.off("error", fail);
        resolve(new HostilePeer(socket));
      });
    });
  }

  /** The first bytes received (at least 64 KiB of them when there were that many), as text. */
  rawText(): string {
    const dec = new TextDecoder();
    return this.#raw.map((b) => dec.decode(b, { stream: true })).join("") + dec.decode();
  }

  /** The local port of this connection (the engine logs it as the peer's port). */
  get localPort(): number {
    return this.#localPort;
  }

  #wake(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  /** Resolves once `done()` holds (checked on every read and at the end), or the connection ends. */
  async waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    await this.#until(what, () => done() || this.ended, timeoutMs);
  }

  async #until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.add(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Writes `bytes`; resolves once the socket took them (rejects if the connection is gone). */
  write(bytes: Uint8Array | string): Promise<void> {
    const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    return new Promise((resolve, reject) => {
      if (this.ended) return reject(new Error("the connection is over"));
      this.#socket.write(data, (error?: Error | null) => error ? reject(error) : resolve());
    });
  }

  /** Writes `bytes` in pieces of `chunk` bytes, `gapMs` apart; stops quietly if the peer ends. */
  async trickle(bytes: Uint8Array, chunk = 1, gapMs = 0): Promise<void> {
    for (let off = 0; off < bytes.length && !this.ended; off += chunk) {
      if (off > 0 && gapMs > 0) await sleep(gapMs);
      await this.write(bytes.subarray(off, off + chunk)).catch(() => {});
    }
  }

  /** Waits until `count` frames in all came back; returns them. */
  async waitFrames(count: number, timeoutMs = 10_000): Promise<Uint8Array[]> {
    await this.#until(
      `${count} frames (have ${this.frames.length})`,
      () => this.frames.length >= count || this.ended,
      timeoutMs,
    );
    if (this.frames.length < count) {
      throw new Error(
        `the connection ended after ${this.frames.length} of ${count} frames` +
          (this.error ? `: ${this.error.code ?? ""} ${this.error.message}` : " (EOF)"),
      );
    }
    return this.frames.slice(0, count);
  }

  /** Waits until at least `count` bytes came back (framed or not). */
  async waitBytes(count: number, timeoutMs = 10_000): Promise<void> {
    await this.#until(`${count} bytes back`, () => this.bytesReceived >= count, timeoutMs);
  }

  /** Sends one framed message and waits for the next frame back. */
  async request(message: string | Uint8Array, timeoutMs = 10_000): Promise<Uint8Array> {
    const n = this.frames.length;
    await this.write(encodeMllp(message));
    return (await this.waitFrames(n + 1, timeoutMs))[n]!;
  }

  /** Waits until the engine ends the connection. */
  async waitEnd(timeoutMs = 10_000): Promise<void> {
    await this.#until("the engine to end the connection", () => this.ended, timeoutMs);
  }

  /** Resets the connection (RST instead of FIN), as a crashing or impatient sender does. */
  async reset(): Promise<void> {
    this.#resetByUs = true;
    if (!this.ended) this.#socket.resetAndDestroy();
    await this.#closed;
  }

  /** Closes our side cleanly and waits for the socket to close. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.#socket.end();
      this.#socket.destroySoon();
      // A peer that never closes its side: give up waiting after a while.
      const timer = setTimeout(() => this.#socket.destroy(), 2000);
      await this.#closed;
      clearTimeout(timer);
    }
  }
}

/** Connects (plain TCP, even to a TLS port) and resets at once; resolves when that is done. */
export function connectAndReset(port: number, localAddress?: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({
      host: "127.0.0.1",
      port,
      ...(localAddress ? { localAddress } : {}),
    });
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on("error", () => {/* refused or reset: either way this one is done */});
    socket.once("connect", () => socket.resetAndDestroy());
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** `rounds` rounds of `count` simultaneous connect-and-reset; one round after the other. */
export async function connectResetBurst(
  port: number,
  count: number,
  rounds: number,
): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await Promise.all(Array.from({ length: count }, () => connectAndReset(port)));
  }
}

/** A small deterministic PRNG (mulberry32), so a failing case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes from `seed`, MLLP's VT and FS included now and then. */
export function randomBytes(n: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/** `depth` nested arrays, `[[[…]]]`: tiny to send, very deep to parse. */
export function nestedJsonArrays(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** What a raw HTTP exchange saw. */
export interface RawHttpResult {
  /** The status code of the answer, if one came. */
  status: number | undefined;
  /** Everything the server sent (up to 64 KiB). */
  text: string;
  /** How the connection ended: the server closed it, reset it, or it is still open (we gave up). */
  end: "closed" | "reset" | "open";
}

/**
 * Writes `head` (an HTTP request line and headers, possibly incomplete) to the HTTP port, then
 * each of `trickle` `gapMs` apart (stopping once the server answered or closed), and reads until
 * the server closes or `timeoutMs` passes.
 */
export async function rawHttp(
  port: number,
  head: string | Uint8Array,
  options: { trickle?: (string | Uint8Array)[]; gapMs?: number; timeoutMs?: number } = {},
): Promise<RawHttpResult> {
  const peer = await HostilePeer.connect(port);
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  await peer.write(head).catch(() => {});
  for (const piece of options.trickle ?? []) {
    if (peer.ended || peer.bytesReceived > 0 || Date.now() > deadline) break;
    await sleep(options.gapMs ?? 100);
    await peer.write(piece).catch(() => {});
  }
  try {
    // Until the server closes, or has answered and then had 2 s more to close.
    await peer.waitFor(
      "an answer",
      () => peer.rawText().includes("\r\n\r\n"),
      deadline - Date.now(),
    );
    await peer.waitEnd(2000);
  } catch { /* still open: reported as such */ }
  const text = peer.rawText();
  const end = !peer.ended ? "open" : peer.error ? "reset" : "closed";
  await peer.reset();
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return { status: m ? Number(m[1]) : undefined, text, end };
}
