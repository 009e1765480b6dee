/**
 * The Node load generators of `../shared/tools` (`mllp-load.mjs`, `mllp-paced.mjs`) as children,
 * and the corpus they send.
 * @module
 */

import { printLine } from "../harness.ts";
import { HOST, spawn, TOOLS } from "./children.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One run of mllp-load.mjs or mllp-paced.mjs, as it reports it. */
export interface LoadResult {
  conc: number;
  seconds: number;
  ok: number;
  bad: number;
  errors: number;
  msg_per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  /** mllp-paced only: the offered rate. */
  rate?: number;
  /** mllp-paced only: messages sent after their due time (the previous ACK came back late). */
  late?: number;
}

async function runNode(name: string, script: string, args: string[]): Promise<LoadResult> {
  const t = spawn(
    name,
    new Deno.Command("node", {
      args: [new URL(script, TOOLS).pathname, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
  const out = await t.child.output();
  const err = decoder.decode(out.stderr).trim();
  if (err) printLine(`  [${name}] ${err.split("\n").slice(0, 3).join(" | ")}`);
  if (!out.success) throw new Error(`${name} exited with ${out.code}`);
  const lines = decoder.decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as LoadResult;
}

/** mllp-load.mjs: `conns` connections, one message in flight each, for `seconds`. */
export function mllpLoad(port: number, conns: number, seconds: number): Promise<LoadResult> {
  return runNode("mllp-load", "mllp-load.mjs", [HOST, `${port}`, `${conns}`, `${seconds}`]);
}

/** mllp-paced.mjs: `rate` messages per second offered over `conns` connections, for `seconds`. */
export function mllpPaced(
  port: number,
  conns: number,
  seconds: number,
  rate: number,
): Promise<LoadResult> {
  return runNode("mllp-paced", "mllp-paced.mjs", [
    HOST,
    `${port}`,
    `${conns}`,
    `${seconds}`,
    `${Math.max(1, Math.round(rate))}`,
  ]);
}

/** The corpus mllp-load and mllp-paced send (their first 3,000 messages of hl7corpus.mjs). */
export async function corpusStats(): Promise<
  { messages: number; meanBytes: number; bytes: Uint8Array[] }
> {
  const gen = await import(new URL("hl7corpus.mjs", TOOLS).href) as {
    corpus(n: number, seed?: number): string[];
  };
  const all = gen.corpus(3000).map((t) => encoder.encode(t));
  const bytes = all.reduce((s, b) => s + b.length, 0);
  return { messages: all.length, meanBytes: bytes / all.length, bytes: all };
}
