/**
 * Small generic helpers for standalone benchmark scripts: timing, medians, a plain-text table
 * and the final machine-readable JSON line, and the minimal MLLP peer their destinations share
 * (framing, MSH-10, a fixed `AA` ACK). Output goes to stdout without `console`.
 *
 * @module
 */

import process from "node:process";
import { findJemalloc } from "../app/allocator.ts";
import { MllpDecoder } from "../codecs/mllp/mod.ts";

/** Options of {@link measure}. */
export interface MeasureOptions {
  /** Label of the measurement. */
  readonly name: string;
  /** One unit of work; returns how many items it processed (messages, bytes...). */
  readonly fn: () => number;
  /** Minimum wall time of one sample in milliseconds (the unit is repeated until reached). */
  readonly minMs?: number;
}

/** One sample of {@link measure}: items processed and the time it took. */
export interface Sample {
  /** Items processed. */
  readonly items: number;
  /** Elapsed milliseconds. */
  readonly ms: number;
  /** Items per second. */
  readonly perSecond: number;
}

/** Runs `fn` repeatedly for at least `minMs` (default 100) and returns one throughput sample. */
export function measure(options: MeasureOptions): Sample {
  const minMs = options.minMs ?? 100;
  let items = 0;
  const t0 = performance.now();
  let ms = 0;
  do {
    items += options.fn();
    ms = performance.now() - t0;
  } while (ms < minMs);
  return { items, ms, perSecond: (items * 1000) / ms };
}

/** A contender of {@link cpuRates}. */
export interface Pass {
  /** Label of the contender. */
  readonly name: string;
  /** One pass over its items; returns how many. */
  readonly pass: () => number;
}

/** A {@link Pass} of `fn` over `items`. */
export function over<T>(items: readonly T[], fn: (item: T) => unknown): () => number {
  return () => {
    for (const item of items) fn(item);
    return items.length;
  };
}

/** Median items per second of one contender of {@link cpuRates}. */
export interface Rate {
  /** Label of the contender. */
  readonly name: string;
  /** Per second of wall time. */
  readonly wall: number;
  /** Per second of this process's CPU time (`process.cpuUsage`, GC threads included). */
  readonly cpu: number;
}

/**
 * Runs every contender for `warmupMs` (until the JIT has settled), then `rounds` rounds that
 * alternate them, each sample at least 300 ms of passes; returns their median rates, in order.
 */
export function cpuRates(
  contenders: readonly Pass[],
  options: { readonly rounds: number; readonly warmupMs: number },
): Rate[] {
  for (const c of contenders) {
    const t0 = performance.now();
    while (performance.now() - t0 < options.warmupMs) c.pass();
  }
  const samples = new Map<string, { wall: number[]; cpu: number[] }>(
    contenders.map((c) => [c.name, { wall: [], cpu: [] }]),
  );
  for (let r = 0; r < options.rounds; r++) {
    for (const c of contenders) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      do n += c.pass(); while (performance.now() - t0 < 300);
      const ms = performance.now() - t0;
      const used = process.cpuUsage(c0);
      const s = samples.get(c.name) as { wall: number[]; cpu: number[] };
      s.wall.push((n * 1000) / ms);
      s.cpu.push(n / ((used.user + used.system) / 1e6));
    }
  }
  return contenders.map((c) => {
    const s = samples.get(c.name) as { wall: number[]; cpu: number[] };
    return { name: c.name, wall: median(s.wall), cpu: median(s.cpu) };
  });
}

/** Options of {@link rounds}. */
export interface RoundsOptions {
  /** The contenders, measured one after another within each round (alternating). */
  readonly contenders: readonly MeasureOptions[];
  /** Number of rounds (default 5). */
  readonly rounds?: number;
  /** Stop starting new rounds after this many milliseconds in total (default unbounded). */
  readonly budgetMs?: number;
}

/** Alternates the contenders over several rounds; returns each contender's samples by name. */
export function rounds(options: RoundsOptions): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  for (const c of options.contenders) out.set(c.name, []);
  const t0 = performance.now();
  const n = options.rounds ?? 5;
  for (let r = 0; r < n; r++) {
    if (r > 0 && options.budgetMs !== undefined && performance.now() - t0 > options.budgetMs) {
      break;
    }
    for (const c of options.contenders) out.get(c.name)?.push(measure(c));
  }
  return out;
}

/** Median of a list of numbers (NaN for an empty list). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The V8 flags of `deno task start` (deno.json), for a bench that starts the engine as a child:
 * it runs the engine as users start it.
 */
export function engineV8Flags(): string[] {
  const json = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const start = (json as { tasks: Record<string, string> }).tasks.start ?? "";
  return start.split(/\s+/).filter((w) => w.startsWith("--v8-flags="));
}

/** The allocator a bench starts the engine with, and the environment that selects it. */
export interface BenchAllocator {
  /** `jemalloc` or `system` (the C library's malloc). */
  readonly name: string;
  /** Added to the child's environment (`LD_PRELOAD` for jemalloc). */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * jemalloc preloaded when this machine has it, as the image runs the engine (Dockerfile), else
 * the C library's malloc; `BENCH_ALLOCATOR=system` measures without it where it is installed.
 * Benches give the same to the bare pipeline, and say which one ran.
 */
export function engineAllocator(): BenchAllocator {
  const wanted = Deno.env.get("BENCH_ALLOCATOR") ?? "jemalloc";
  const jemalloc = wanted === "system" ? undefined : findJemalloc();
  return jemalloc
    ? { name: "jemalloc", env: { LD_PRELOAD: jemalloc } }
    : { name: "system malloc", env: {} };
}

const encoder = new TextEncoder();

/** Writes one line to stdout. */
export function printLine(line = ""): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** Prints rows as an aligned plain-text table (numbers right-aligned). */
export function printTable(
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): void {
  const cells = rows.map((r) =>
    r.map((v) =>
      typeof v === "number" ? v.toLocaleString("en-US", { maximumFractionDigits: 1 }) : v
    )
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const fmt = (r: readonly string[], numeric: readonly boolean[]) =>
    r.map((v, i) => numeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))
      .join("  ");
  printLine(fmt(headers, headers.map(() => false)));
  printLine(widths.map((w) => "-".repeat(w)).join("  "));
  rows.forEach((r, k) => printLine(fmt(cells[k] ?? [], r.map((v) => typeof v === "number"))));
}

/** Prints the final machine-readable result as one JSON line. */
export function printJson(value: Record<string, unknown>): void {
  printLine(JSON.stringify(value));
}

/** A logger for an engine under benchmark: counts, and prints only problems. */
export interface BenchLogger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /** `delivery.succeeded` events seen. */
  succeeded: number;
  /** Warnings and errors seen (the first few are printed). */
  problems: number;
}

/** A {@link BenchLogger}: the first 5 problems are printed with `prefix`. */
export function benchLogger(prefix = "engine"): BenchLogger {
  let printed = 0;
  const problem = (level: string) => (event: string, fields?: Record<string, unknown>) => {
    logger.problems++;
    if (printed++ < 5) printLine(`  [${prefix} ${level}] ${event} ${JSON.stringify(fields ?? {})}`);
  };
  const logger: BenchLogger = {
    succeeded: 0,
    problems: 0,
    debug(event: string) {
      if (event === "delivery.succeeded") logger.succeeded++;
    },
    info() {},
    warn: problem("warn"),
    error: problem("error"),
  };
  return logger;
}

/** Polls `check` every 2 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Serves one MLLP connection for a benchmark peer: frames what it reads (VT … FS CR, partial
 * frames kept across reads, bytes outside a frame dropped) and writes back `reply(message)` for
 * each message, until the peer closes or an error; then closes `conn`. Minimal on purpose (no
 * HL7 parse), so that the peer takes as little CPU as possible from the engine measured.
 */
export async function serveMllpReplies(
  conn: Deno.TcpConn,
  reply: (message: Uint8Array) => Uint8Array,
): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  let pending = new Uint8Array(0);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      let data = buf.subarray(0, n);
      if (pending.length) {
        const joined = new Uint8Array(pending.length + n);
        joined.set(pending);
        joined.set(data, pending.length);
        data = joined;
      }
      let start = 0;
      const replies: Uint8Array[] = [];
      while (true) {
        const vt = data.indexOf(0x0b, start);
        if (vt < 0) {
          start = data.length;
          break;
        }
        const fs = data.indexOf(0x1c, vt);
        if (fs < 0 || fs + 1 >= data.length) {
          start = vt;
          break;
        }
        replies.push(reply(data.subarray(vt + 1, fs)));
        start = fs + 2;
      }
      pending = data.slice(start);
      for (const r of replies) {
        let off = 0;
        while (off < r.length) off += await conn.write(r.subarray(off));
      }
    }
  } catch { /* peer gone */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

/**
 * Calls `onFrame` with each MLLP frame `conn` sends, in order, one at a time (waiting for it when
 * it returns a promise), until `conn` ends. For the bare peers (bench/pipeline/bare_pipeline.ts,
 * bench/drain/bare_drain.ts), which read with the engine's own decoder.
 *
 * @example
 * ```ts ignore
 * void readMllpFrames(conn, (body) => acks.shift()?.(body)).catch(() => {});
 * ```
 */
export async function readMllpFrames(
  conn: Deno.Conn,
  onFrame: (body: Uint8Array) => Promise<void> | void,
): Promise<void> {
  const decoder = new MllpDecoder();
  const buf = new Uint8Array(1 << 16);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return;
    // A copy: the decoder keeps views of pushed chunks until their frame ends, and buf is reused.
    for (const event of decoder.push(buf.slice(0, n))) {
      if (event.type === "frame") await onFrame(event.payload);
    }
  }
}

const mllpDecoder = new TextDecoder();
const mllpEncoder = new TextEncoder();

/** MSH-10 of an HL7 v2 message, read from its first 512 bytes only ("" when there is none). */
export function mshControlId(message: Uint8Array): string {
  const head = mllpDecoder.decode(message.subarray(0, Math.min(message.length, 512)));
  return head.split("\r", 1)[0]!.split("|")[9] ?? "";
}

/** The MLLP frame of a fixed `AA` ACK whose MSA-2 is `id` (an MSH-10). */
export function ackFrame(id: string): Uint8Array {
  const ack = `MSH|^~\\&|RCV|RCV|ENGINE|ENGINE|20240101000000||ACK|A${id}|P|2.5.1\rMSA|AA|${id}`;
  return mllpEncoder.encode(`\x0b${ack}\x1c\r`);
}
