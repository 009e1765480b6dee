/**
 * Small generic helpers for standalone benchmark scripts: timing, medians, a plain-text table
 * and the final machine-readable JSON line. Output goes to stdout without `console`.
 *
 * @module
 */

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
