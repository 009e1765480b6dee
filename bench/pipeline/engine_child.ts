/**
 * The real engine (`main.ts serve`) in a child process, started as `deno task start` starts it
 * (with jemalloc preloaded when the machine has it, as the image runs it: `engineAllocator()`),
 * with its admin API, metrics and output at hand; RSS and KV file sizes from outside.
 * @module
 */

import { engineAllocator, engineV8Flags } from "../harness.ts";
import { freePort, HOST, REPO, sleep, spawn, stopChild, type Tracked } from "./children.ts";

/** The real engine (`main.ts serve`) in a child process, one MLLP integration → one destination. */
export class EngineChild {
  /** The engine's pid (the shell that starts it `exec`s it). */
  readonly pid: number;
  /** The integration's MLLP port. */
  readonly mllpPort: number;
  /** The KV file. */
  readonly kvPath: string;
  /** Its stdout and stderr. */
  readonly logPath: string;
  readonly #t: Tracked;
  readonly #admin: string;
  readonly #dir: string;

  private constructor(t: Tracked, ports: { mllp: number; http: number }, dir: string) {
    this.#t = t;
    this.pid = t.child.pid;
    this.mllpPort = ports.mllp;
    this.kvPath = `${dir}/engine.kv`;
    this.logPath = `${dir}/engine.log`;
    this.#admin = `http://${HOST}:${ports.http}/admin`;
    this.#dir = dir;
  }

  /** Its public HTTP server (`/endpoint`, `/v2/auth/token`): `http://127.0.0.1:<port>`. */
  get base(): string {
    return this.#admin.replace(/\/admin$/, "");
  }

  /** A metric without labels from `GET /metrics` (a counter or gauge); NaN when unreadable. */
  async metric(name: string): Promise<number> {
    try {
      const r = await fetch(`${this.base}/metrics`, {
        signal: AbortSignal.timeout(5000),
      });
      const text = await r.text();
      const line = text.split("\n").find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) : NaN;
    } catch {
      return NaN;
    }
  }

  /**
   * The actors as `GET /admin/actors` shows them, one short line each (id, state, queue depth),
   * for a report when the pipeline does not drain. The token is the one the engine generated
   * into its KV folder.
   */
  async actors(): Promise<string> {
    try {
      const r = await this.#adminFetch("/actors");
      const body = await r.json() as {
        actors?: { id: string; state?: string; queueDepth?: number }[];
      };
      return (body.actors ?? []).map((a) => `${a.id} ${a.state} queue=${a.queueDepth}`)
        .join("; ");
    } catch (error) {
      return `(GET /admin/actors failed: ${(error as Error).message})`;
    }
  }

  /**
   * Sends an operator command (`pause`, `resume`) to an actor through
   * `POST /admin/actors/:id/:command`, with the token the engine generated into its KV folder.
   * Throws unless the engine answers 2xx.
   */
  async command(actor: string, command: "pause" | "resume"): Promise<void> {
    const r = await this.#adminFetch(`/actors/${encodeURIComponent(actor)}/${command}`, {
      by: "bench",
      reason: "intake measured alone",
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${command} ${actor}: ${r.status} ${text}`);
  }

  /** `GET` (or, with a body, `POST` as JSON) an admin path, with the engine's generated token. */
  async #adminFetch(path: string, body?: unknown): Promise<Response> {
    const token = (await Deno.readTextFile(`${this.#dir}/admin.token`)).trim();
    return await fetch(`${this.#admin}${path}`, {
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
  }

  /**
   * Writes a config into `dir` (KV file there too; integration `feed` on 127.0.0.1 allowing
   * 127.0.0.0/8, destination `out` = 127.0.0.1:`destPort`, subscription `feed` → `out` in HL7v2;
   * plain HTTP in development) and starts the engine; resolves once `/healthz` answers 200.
   * `options.destination` adds settings to `out` (say `hl7Edits`, which route every message
   * through the inbound actor's application step); `options.config` adds (or replaces) top-level
   * sections (say an API source, its subscription and `limits`), and `options.env` the
   * variables its secrets name.
   */
  static async start(
    dir: string,
    destPort: number,
    options: {
      destination?: Record<string, unknown>;
      config?: Record<string, unknown>;
      env?: Record<string, string>;
    } = {},
  ): Promise<EngineChild> {
    const mllpPort = freePort();
    const httpPort = freePort();
    const kvPath = `${dir}/engine.kv`;
    const logPath = `${dir}/engine.log`;
    const config = {
      node: { id: "bench" },
      kv: { path: kvPath },
      http: { port: httpPort, hostname: HOST, development: true },
      environments: [{ id: "development", type: "development" }],
      listeners: [{ port: mllpPort, hostname: HOST }],
      integrations: [{
        id: "feed",
        environment: "development",
        mllp: { port: mllpPort, allowedIps: ["127.0.0.0/8"] },
      }],
      destinations: [{
        id: "out",
        environment: "development",
        mllp: { host: HOST, port: destPort, ackTimeoutSeconds: 30 },
        ...options.destination,
      }],
      subscriptions: [{ id: "feed-to-out", from: { integration: "feed" }, to: ["out"] }],
      ...options.config,
    };
    const configPath = `${dir}/config.json`;
    await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
    const t = spawn(
      "engine",
      new Deno.Command("/bin/sh", {
        // `exec` so that the child's pid is the engine's own (for /proc and signals).
        args: [
          "-c",
          'exec "$@" >>"$ENGINE_LOG" 2>&1',
          "sh",
          Deno.execPath(),
          "run",
          "--allow-all",
          ...engineV8Flags(),
          "main.ts",
          "serve",
          "--config",
          configPath,
        ],
        cwd: REPO.pathname,
        env: { ...engineAllocator().env, ...options.env, ENGINE_LOG: logPath, NO_COLOR: "1" },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }),
    );
    const engine = new EngineChild(t, { mllp: mllpPort, http: httpPort }, dir);
    const deadline = performance.now() + 60_000;
    while (true) {
      if (t.done) throw new Error(`the engine exited at start:\n  ${engine.tail()}`);
      try {
        const r = await fetch(`http://${HOST}:${httpPort}/healthz`, {
          signal: AbortSignal.timeout(2000),
        });
        await r.body?.cancel();
        if (r.status === 200) return engine;
      } catch { /* not up yet */ }
      if (performance.now() > deadline) {
        await stopChild(t, "SIGKILL", 5000);
        throw new Error(`the engine did not answer /healthz in 60 s:\n  ${engine.tail()}`);
      }
      await sleep(200);
    }
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return !this.#t.done;
  }

  /** The last lines of its output. */
  tail(lines = 8): string {
    try {
      return Deno.readTextFileSync(this.logPath).trim().split("\n").slice(-lines).join("\n  ");
    } catch {
      return "(no output)";
    }
  }

  /** Warnings and errors it logged so far (lines with WARN or ERROR). */
  problems(): string[] {
    try {
      return Deno.readTextFileSync(this.logPath).split("\n").filter((l) =>
        /\b(WARN|ERROR)\b/.test(l)
      );
    } catch {
      return [];
    }
  }

  /** Resident set size in bytes. */
  rss(): number {
    return residentBytes(this.pid);
  }

  /** Stops it with SIGTERM (a clean stop), SIGKILL after 20 s; returns how it ended. */
  async stop(): Promise<string> {
    const status = await stopChild(this.#t, "SIGTERM", 20_000);
    return status.signal ? `signal ${status.signal}` : `exit ${status.code}`;
  }
}

/** VmRSS of `pid` in bytes (0 when gone). */
export function residentBytes(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Size of a KV file with its `-wal` and `-shm` files, in bytes. */
export function kvBytes(path: string): { total: number; main: number; wal: number; shm: number } {
  const size = (p: string) => {
    try {
      return Deno.statSync(p).size;
    } catch {
      return 0;
    }
  };
  const main = size(path), wal = size(`${path}-wal`), shm = size(`${path}-shm`);
  return { total: main + wal + shm, main, wal, shm };
}
