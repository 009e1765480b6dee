/**
 * The runner behind `deno task bench [filter]`: runs every standalone benchmark script in
 * `bench/` (each `*.ts` but this file and `harness.ts`), one after another, each in its own
 * process (`deno run -A <script>`) so that memory figures are not shared. Their output is streamed
 * as it comes; the last line of each that starts with `{"bench"` is kept, and a summary of every
 * `ratio` they report (with its `target`, a minimum, or `targetMax`, a maximum, when given) is
 * printed at the end.
 *
 * A filter argument runs only the scripts whose file name contains it. A long script (`soak.ts`,
 * 10 minutes) runs only when a filter names it (`deno task bench soak`) and has its own time
 * limit; without a filter it is listed as skipped. Exits non-zero when a script fails, prints no
 * JSON line, or runs longer than its time limit (it is then killed).
 *
 * @module
 */

import { printLine, printTable } from "./harness.ts";

/** Longest a single script may run before it is stopped. */
const SCRIPT_LIMIT_MS = 300_000;
const NOT_BENCHES = new Set(["mod.ts", "harness.ts"]);
/** Scripts run only when the filter names them, with their time limit. */
const LONG = new Map([["soak.ts", 1_200_000]]);
/** Scripts that run by default but take longer than {@link SCRIPT_LIMIT_MS}. */
const SLOW = new Map([["pipeline.ts", 510_000]]);

interface Outcome {
  script: string;
  ok: boolean;
  why?: string;
  seconds: number;
  result?: Record<string, unknown>;
}

interface RatioRow {
  bench: string;
  figure: string;
  ratio: number;
  target: string;
  verdict: string;
}

const dir = new URL(".", import.meta.url);
const filter = Deno.args[0];
const all = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith(".ts") && !NOT_BENCHES.has(e.name))
  .map((e) => e.name)
  .sort();
const scripts = all.filter((name) =>
  filter === undefined ? !LONG.has(name) : name.includes(filter)
);
if (scripts.length === 0) {
  printLine(`bench: no script matches ${JSON.stringify(filter)} (have: ${all.join(", ")})`);
  Deno.exit(1);
}

const outcomes: Outcome[] = [];
for (const script of scripts) outcomes.push(await run(script));
if (filter === undefined) {
  for (const script of LONG.keys()) {
    const skipped = `long run: deno task bench ${script.replace(/\.ts$/, "")}`;
    outcomes.push({ script, ok: true, seconds: 0, result: { skipped } });
  }
}

printLine();
printLine("=".repeat(100));
printLine("Summary");
printTable(
  ["script", "status", "seconds"],
  outcomes.map((o) => [
    o.script,
    !o.ok
      ? `FAILED: ${o.why}`
      : typeof o.result?.skipped === "string"
      ? `skipped: ${o.result.skipped}`
      : "ok",
    Number(o.seconds.toFixed(1)),
  ]),
);
const ratios = outcomes.flatMap((o) => o.result ? ratioRows(o.result) : []);
if (ratios.length > 0) {
  printLine();
  printTable(
    ["bench", "figure", "ratio", "target", "met"],
    // Three decimals below 10, so that a ratio just short of its target does not print as it.
    ratios.map((r) => [
      r.bench,
      r.figure,
      r.ratio.toFixed(Math.abs(r.ratio) < 10 ? 3 : 2),
      r.target,
      r.verdict,
    ]),
  );
}
const failed = outcomes.filter((o) => !o.ok);
if (failed.length > 0) {
  printLine(`\n${failed.length} of ${outcomes.length} bench scripts failed`);
  Deno.exit(1);
}

/** Runs one script, streaming its output, and keeps its final JSON line. */
async function run(script: string): Promise<Outcome> {
  printLine();
  printLine(`=== bench/${script} ${"=".repeat(Math.max(0, 90 - script.length))}`);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, dir).pathname],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let timedOut = false;
  const limitMs = LONG.get(script) ?? SLOW.get(script) ?? SCRIPT_LIMIT_MS;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, limitMs);
  let last: string | undefined;
  let partial = "";
  const decoder = new TextDecoder();
  const note = (line: string) => {
    if (line.startsWith('{"bench"')) last = line;
  };
  for await (const chunk of child.stdout) {
    await writeAll(chunk);
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) note(line.trim());
    // A line too long to be a result line is not kept whole.
    if (partial.length > 1_000_000) partial = "";
  }
  note((partial + decoder.decode()).trim());
  const status = await child.status;
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  if (timedOut) {
    return { script, ok: false, why: `killed after ${limitMs / 1000} s`, seconds };
  }
  if (!status.success) return { script, ok: false, why: `exit code ${status.code}`, seconds };
  if (last === undefined) return { script, ok: false, why: "no JSON result line", seconds };
  try {
    return { script, ok: true, seconds, result: JSON.parse(last) as Record<string, unknown> };
  } catch {
    return { script, ok: false, why: "unreadable JSON result line", seconds };
  }
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await Deno.stdout.write(bytes.subarray(off));
}

/** Every `ratio` in a result (at any depth), with a sibling `target`/`targetMax` if present. */
function ratioRows(result: Record<string, unknown>): RatioRow[] {
  const bench = typeof result.bench === "string" ? result.bench : "?";
  const rows: RatioRow[] = [];
  const walk = (value: unknown, path: string[]) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return;
    const obj = value as Record<string, unknown>;
    if (typeof obj.ratio === "number") {
      const min = typeof obj.target === "number" ? obj.target : undefined;
      const max = typeof obj.targetMax === "number" ? obj.targetMax : undefined;
      rows.push({
        bench,
        figure: path.length ? [...path, "ratio"].join(".") : "ratio (headline)",
        ratio: obj.ratio,
        target: min !== undefined ? `>= ${min}` : max !== undefined ? `<= ${max}` : "",
        verdict: min !== undefined
          ? (obj.ratio >= min ? "yes" : "NO")
          : max !== undefined
          ? (obj.ratio <= max ? "yes" : "NO")
          : "",
      });
    }
    for (const [k, v] of Object.entries(obj)) walk(v, [...path, k]);
  };
  walk(result, []);
  return rows;
}
