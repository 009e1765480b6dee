/**
 * The HTTP benchmarks' load: bench/load/https_post.ts in a process of its own, `clients`
 * keep-alive clients posting one body for a while, every answer required to be `200`.
 * @module
 */

import { printLine } from "../harness.ts";

const LOAD = new URL("../load/https_post.ts", import.meta.url);

/** One run of the load script, as it reports it. */
export interface HttpLoadResult {
  conc: number;
  seconds: number;
  ok: number;
  bad: number;
  errors: number;
  per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  firstProblem?: string;
}

/** Where and what to post, by how many clients for how long. */
export interface HttpLoadOptions {
  url: string;
  clients: number;
  seconds: number;
  /** The file of the body posted. */
  bodyFile: string;
  /** The CA certificate to trust for an `https:` URL ("-" or absent for `http:`). */
  caFile?: string;
  /** A bearer token to send, if any. */
  token?: string;
}

/**
 * Runs the load and gives its figures; throws when any answer was not `200` or a request failed.
 *
 * @example
 * ```ts ignore
 * const r = await httpLoad({ url, clients: 64, seconds: 5, bodyFile, caFile, token });
 * console.log(r.per_s, r.p99_ms);
 * ```
 */
export async function httpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const { url, clients, seconds, bodyFile } = options;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      LOAD.pathname,
      url,
      String(clients),
      String(seconds),
      options.caFile ?? "-",
      bodyFile,
      options.token ?? "",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim();
  if (err) printLine(`  [load] ${err.split("\n").slice(0, 3).join(" | ")}`);
  if (!out.success) throw new Error(`load script exited with ${out.code}`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const result = JSON.parse(lines[lines.length - 1]!) as HttpLoadResult;
  if (result.bad > 0 || result.errors > 0) {
    throw new Error(
      `load: ${result.bad} bad answers, ${result.errors} errors: ${result.firstProblem}`,
    );
  }
  return result;
}
