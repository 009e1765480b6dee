/**
 * `main.ts` run as a user runs it, as a child process from the repository's root, for the CLI
 * tests.
 * @module
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

/** A run of `main.ts` still going after this long is killed and fails its test. */
export const MAIN_DEADLINE_MS = 60_000;

/** What a run of `main.ts` gave. */
export interface MainRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `main.ts args…` (`deno run -A`, no colour, no stdin) and waits for it to end; `env` adds
 * variables (say an empty `ENGINE_ADMIN_TOKEN`, so that an inherited one does not win).
 */
export async function runMain(
  args: string[],
  env: Record<string, string> = {},
): Promise<MainRun> {
  const deadline = AbortSignal.timeout(MAIN_DEADLINE_MS);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: deadline,
  }).output();
  assert.ok(!deadline.aborted, `main.ts ${args.join(" ")} still ran after ${MAIN_DEADLINE_MS} ms`);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
