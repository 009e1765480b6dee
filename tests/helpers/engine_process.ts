/**
 * `main.ts` in a child process, as an operator runs it: its stdout and stderr collected as text
 * (for the events it logs and for failure messages), and whether it has exited.
 * @module
 */

const root = new URL("../../", import.meta.url).pathname;

/** A running `main.ts` child. */
export interface EngineProcess {
  readonly child: Deno.ChildProcess;
  /** Resolves with its status once it exits. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Resolves once both of its output streams ended. */
  readonly drained: Promise<unknown>;
  /** Everything it printed so far, stdout and stderr interleaved as they came. */
  output(): string;
  /** Whether it has exited. */
  exited(): boolean;
}

/**
 * Starts `deno run <flags> main.ts <args>` in the repository root with `NO_COLOR=1` and `env`.
 *
 * @example
 * ```ts
 * const engine = spawnEngine({ flags: ["-A"], args: ["serve", "--config", path] });
 * await waitFor("listening", () => engine.output().includes("http.listening"));
 * engine.child.kill("SIGTERM");
 * await engine.status;
 * ```
 */
export function spawnEngine(options: {
  flags: readonly string[];
  args: readonly string[];
  env?: Record<string, string>;
}): EngineProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...options.flags, "main.ts", ...options.args],
    cwd: root,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const drained = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output += chunk;
  }));
  return { child, status, drained, output: () => output, exited: () => exited };
}
