/**
 * Structured, single-line logs: `time LEVEL event key=value …`. Every failure path logs its reason
 * here; values that are secrets never reach it (they print as `[secret …]`).
 * @module
 */

/** Log levels in increasing severity. */
export type Level = "debug" | "info" | "warn" | "error";

/** A log sink: one event name and flat fields. */
export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function render(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") return /^[\w.:\/@-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

/** Formats one line (exported for tests and for sinks other than the console). */
export function formatLine(
  level: Level,
  event: string,
  fields: Record<string, unknown> = {},
  now = new Date(),
): string {
  const parts = [now.toISOString(), level.toUpperCase().padEnd(5), event];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) parts.push(`${k}=${render(v)}`);
  return parts.join(" ");
}

/** A logger writing lines to `write` (stderr by default) at `level` and above. */
export function createLogger(
  options: { level?: Level; write?: (line: string) => void } = {},
): Logger {
  const min = ORDER[options.level ?? "info"];
  const encoder = new TextEncoder();
  const write = options.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const at = (level: Level) => (event: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] >= min) write(formatLine(level, event, fields));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that keeps lines in memory (tests assert on what was logged). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ level: "debug", write: (l) => lines.push(l) }), { lines });
}
