/**
 * The test rig shared by bench/pipeline.ts and bench/soak.ts: the real engine as a child process
 * (`main.ts serve --config …`), a counting MLLP receiver as its destination, the peers measured
 * next to it (`@medplum/hl7`'s `Hl7Server` in Node, `kv-limit-server.ts`), the Node load
 * generators of `../shared/tools`, per-thread CPU and RSS of a child from /proc, and the
 * receive → delivered latencies read back from the engine's KV file once it is stopped.
 *
 * Every child it starts is tracked; {@link killAll} (called by the guard timer, on SIGINT/SIGTERM
 * and at the end of a run) stops the ones still running, by their own pid only.
 *
 * This folder is not a benchmark script itself: bench/mod.ts runs only the `*.ts` files directly
 * in bench/.
 *
 * @module
 */

import { keys, type LogRecord, type MessageRecord } from "../../actors/store/mod.ts";
import { ackFrame, engineV8Flags, mshControlId, printLine, serveMllpReplies } from "../harness.ts";
import { firstLine } from "../../tests/helpers/child_output.ts";

/** Every socket binds and connects here. */
export const HOST = "127.0.0.1";
const TOOLS = new URL("../../../shared/tools/", import.meta.url);
const REPO = new URL("../../", import.meta.url);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// Children: tracked, killed at the end or on the guard
// ---------------------------------------------------------------------------------------------

interface Tracked {
  name: string;
  child: Deno.ChildProcess;
  done: boolean;
}
const tracked = new Set<Tracked>();

/** Spawns `command` and tracks it so that {@link killAll} can stop it. */
function spawn(name: string, command: Deno.Command): Tracked {
  const t: Tracked = { name, child: command.spawn(), done: false };
  tracked.add(t);
  void t.child.status.then(() => {
    t.done = true;
    tracked.delete(t);
  });
  return t;
}

/** SIGKILLs every child this rig started that is still running. */
export function killAll(): void {
  for (const t of tracked) {
    if (t.done) continue;
    try {
      t.child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

/**
 * A hard stop: after `ms`, prints why, kills every child, runs `cleanup` (synchronous: removing
 * the temp folder) and exits 2. SIGINT and SIGTERM do the same with exit code 130. Returns a
 * function that disarms the timer.
 */
export function installGuard(name: string, ms: number, cleanup: () => void = () => {}): () => void {
  const stop = (code: number) => {
    killAll();
    try {
      cleanup();
    } catch { /* best effort on the way out */ }
    Deno.exit(code);
  };
  const timer = setTimeout(() => {
    printLine(`${name}: timed out after ${Math.round(ms / 1000)} s; stopping every child`);
    stop(2);
  }, ms);
  Deno.unrefTimer(timer);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop(130));
  }
  return () => clearTimeout(timer);
}

/** Removes a folder and what it holds, now; nothing when it is already gone. */
export function removeNow(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch { /* gone */ }
}

/** Waits for a child's exit for at most `ms`; SIGKILLs it after that. */
async function stopChild(t: Tracked, signal: Deno.Signal, ms: number): Promise<Deno.CommandStatus> {
  if (!t.done) {
    try {
      t.child.kill(signal);
    } catch { /* already gone */ }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms));
  const first = await Promise.race([t.child.status, late]);
  clearTimeout(timer);
  if (first !== "late") return first;
  try {
    t.child.kill("SIGKILL");
  } catch { /* already gone */ }
  return await t.child.status;
}

/** A port that was free a moment ago on 127.0.0.1 (a config needs it before listening). */
export function freePort(): number {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------
// Load generators (Node, ../shared/tools)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The destination: an in-process MLLP receiver that counts and answers AA
// ---------------------------------------------------------------------------------------------

/**
 * The engine's destination: frames MLLP, answers `AA` with MSA-2 = the MSH-10 it got, counts.
 * In-process and minimal (no HL7 parse) so that it takes as little of the 2 cores as possible
 * from the engine, and so that counting needs no inter-process protocol.
 */
export class Receiver {
  /** Frames answered so far. */
  count = 0;
  /** Frames whose MSH-10 had been seen before (only while {@link trackIds} is on). */
  duplicates = 0;
  /** Arrival time (`Date.now()`) by MSH-10, of the MSH-10s starting with {@link arrivalPrefix}. */
  readonly arrivals = new Map<string, number>();
  /** Records arrival times of the MSH-10s that start with it (none when undefined). */
  arrivalPrefix: string | undefined;
  /** Counts duplicates by MSH-10 (keeps every id seen). */
  trackIds = true;
  readonly #seen = new Set<string>();
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();

  private constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    void this.#accept();
  }

  /** Listens on 127.0.0.1, port 0. */
  static start(): Receiver {
    return new Receiver(Deno.listen({ hostname: HOST, port: 0 }));
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Stops listening and closes every connection. */
  close(): void {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        void serveMllpReplies(conn, (m) => this.#received(m)).finally(() =>
          this.#conns.delete(conn)
        );
      }
    } catch { /* closed */ }
  }

  #received(message: Uint8Array): Uint8Array {
    const id = mshControlId(message);
    this.count++;
    if (this.trackIds) {
      if (this.#seen.has(id)) this.duplicates++;
      else this.#seen.add(id);
    }
    if (this.arrivalPrefix !== undefined && id.startsWith(this.arrivalPrefix)) {
      this.arrivals.set(id, Date.now());
    }
    return ackFrame(id);
  }
}

/**
 * Waits until the receiver has counted `target` frames, for at most `ms` and while `alive()`.
 * Returns the seconds it took (to the last frame) and whether it got there.
 */
export async function waitDelivered(
  receiver: Receiver,
  target: number,
  ms: number,
  alive: () => boolean = () => true,
): Promise<{ seconds: number; done: boolean }> {
  const t0 = performance.now();
  let lastCount = receiver.count;
  let lastAt = t0;
  while (receiver.count < target) {
    const now = performance.now();
    if (now - t0 > ms || !alive()) return { seconds: (now - t0) / 1000, done: false };
    if (receiver.count !== lastCount) {
      lastCount = receiver.count;
      lastAt = now;
    }
    await sleep(5);
  }
  // The time the last frame came, not the time the poll saw it.
  return { seconds: (Math.max(lastAt, performance.now() - 5) - t0) / 1000, done: true };
}

/**
 * A slow sender of its own messages beside the load, for latency measured from outside while the
 * engine runs: one connection, one message in flight, `rate` per second, MSH-10
 * `PROBE-<tag>-<n>`, the send time of each kept; the {@link Receiver} (with
 * `arrivalPrefix = "PROBE-"`) keeps arrivals.
 */
export class Probe {
  /** Send time (`Date.now()`) by MSH-10, until {@link take} removes it. */
  readonly sent = new Map<string, number>();
  /** Messages ACKed AA. */
  acked = 0;
  /** Messages not answered AA (or the connection failed). */
  failed = 0;
  #stopped = false;
  #conn: Deno.TcpConn | undefined;
  readonly #done: Promise<void>;

  private constructor(port: number, rate: number, text: string) {
    this.#done = this.#run(port, rate, text).catch(() => {
      this.failed++;
    });
  }

  /** Connects to `port` and sends `rate` messages per second until {@link stop}. */
  static async start(port: number, rate: number): Promise<Probe> {
    const gen = await import(new URL("hl7corpus.mjs", TOOLS).href) as {
      corpus(n: number, seed?: number): string[];
    };
    return new Probe(port, rate, gen.corpus(2, 11)[1]!);
  }

  /** Stops after the message in flight (closing the connection if its ACK takes over 30 s). */
  async stop(): Promise<void> {
    this.#stopped = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 30_000));
    if (await Promise.race([this.#done, late]) === "late") {
      try {
        this.#conn?.close();
      } catch { /* closed */ }
      await this.#done;
    }
    clearTimeout(timer);
  }

  /**
   * Sent → delivered in ms of the probes sent before `until` (all of them, arrived or not, are
   * then forgotten); one still on its way counts with its age so far (`pending`).
   */
  take(receiver: Receiver, until: number): { sorted: number[]; pending: number } {
    const out: number[] = [];
    let pending = 0;
    const now = Date.now();
    for (const [id, at] of this.sent) {
      if (at >= until) continue;
      const arrived = receiver.arrivals.get(id);
      if (arrived === undefined) pending++;
      out.push((arrived ?? now) - at);
      receiver.arrivals.delete(id);
      this.sent.delete(id);
    }
    return { sorted: out.sort((a, b) => a - b), pending };
  }

  async #run(port: number, rate: number, text: string): Promise<void> {
    const conn = this.#conn = await Deno.connect({ hostname: HOST, port });
    conn.setNoDelay(true);
    const fields = text.split("|");
    const buf = new Uint8Array(16 * 1024);
    // Unique per probe: the engine answers a repeated MSH-10 as a duplicate and sends it nowhere.
    const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const start = performance.now();
    try {
      for (let n = 0; !this.#stopped; n++) {
        const due = start + (n * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const id = `PROBE-${tag}-${n}`;
        fields[9] = id;
        const frame = encoder.encode(`\x0b${fields.join("|")}\x1c\r`);
        this.sent.set(id, Date.now());
        let off = 0;
        while (off < frame.length) off += await conn.write(frame.subarray(off));
        let answer = "";
        while (!answer.includes("\x1c")) {
          const got = await conn.read(buf);
          if (got === null) throw new Error("the engine closed the probe's connection");
          answer += decoder.decode(buf.subarray(0, got));
        }
        if (answer.includes(`MSA|AA|${id}`) || answer.includes(`MSA|CA|${id}`)) this.acked++;
        else this.failed++;
      }
    } finally {
      try {
        conn.close();
      } catch { /* closed by stop() */ }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The engine as a child process
// ---------------------------------------------------------------------------------------------

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

  /** A metric without labels from `GET /metrics` (a counter or gauge); NaN when unreadable. */
  async metric(name: string): Promise<number> {
    try {
      const r = await fetch(`${this.#admin.replace(/\/admin$/, "")}/metrics`, {
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
   */
  static async start(dir: string, destPort: number): Promise<EngineChild> {
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
      }],
      subscriptions: [{ id: "feed-to-out", from: { integration: "feed" }, to: ["out"] }],
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
        env: { ENGINE_LOG: logPath, NO_COLOR: "1" },
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

// ---------------------------------------------------------------------------------------------
// Peers: Hl7Server in Node, kv-limit-server.ts
// ---------------------------------------------------------------------------------------------

/** A peer server in a child process. */
export interface Peer {
  /** What it is. */
  readonly name: string;
  /** Its MLLP port on 127.0.0.1. */
  readonly port: number;
  /** Stops it (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
}

const HL7_SERVER_JS = `
import { Hl7Server } from "@medplum/hl7";
const server = new Hl7Server((connection) => {
  connection.addEventListener("message", ({ message }) => connection.send(message.buildAck()));
  connection.addEventListener("error", () => {});
});
await server.start({ port: 0, host: "127.0.0.1" });
console.log(JSON.stringify({ listening: server.server.address().port, pid: process.pid }));
`;

/** The packages the Node peer needs, with their versions in Deno's npm cache. */
const NODE_PACKAGES = ["@medplum/hl7", "@medplum/core", "iconv-lite", "safer-buffer"];

/**
 * `@medplum/hl7`'s `Hl7Server` answering `message.buildAck()` without persistence, in Node (as
 * its users run it). Node finds the package through a `node_modules` of symlinks into Deno's npm
 * cache (the versions deno.json pins; `node --preserve-symlinks` resolves their own imports there).
 */
export async function startHl7ServerNode(dir: string): Promise<Peer> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const npmCache = (JSON.parse(decoder.decode(info.stdout)) as { npmCache: string }).npmCache;
  const registry = `${npmCache}/registry.npmjs.org`;
  const peerDir = `${dir}/hl7server-node`;
  for (const name of NODE_PACKAGES) {
    const versions = [...Deno.readDirSync(`${registry}/${name}`)].filter((e) => e.isDirectory)
      .map((e) => e.name).sort();
    const version = name.startsWith("@medplum/") ? "5.0.10" : versions[versions.length - 1];
    if (!version || !versions.includes(version)) {
      throw new Error(`${name} is not in Deno's npm cache (${registry}); run deno task check`);
    }
    const link = `${peerDir}/node_modules/${name}`;
    await Deno.mkdir(link.slice(0, link.lastIndexOf("/")), { recursive: true });
    await Deno.symlink(`${registry}/${name}/${version}`, link);
  }
  await Deno.writeTextFile(`${peerDir}/server.mjs`, HL7_SERVER_JS);
  const t = spawn(
    "Hl7Server",
    new Deno.Command("node", {
      args: ["--preserve-symlinks", `${peerDir}/server.mjs`],
      cwd: peerDir,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }),
  );
  return await peer("Hl7Server (@medplum/hl7, Node, buildAck)", t);
}

/** `../shared/tools/kv-limit-server.ts` in `mode` (kv1, kv4x, …), its KV file in `dir`. */
export async function startKvLimit(dir: string, mode: string): Promise<Peer> {
  const kvPath = `${dir}/kv-limit-${mode.replace(/\W/g, "_")}.kv`;
  const t = spawn(
    `kv-limit ${mode}`,
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        new URL("kv-limit-server.ts", TOOLS).pathname,
        "0",
        mode,
        kvPath,
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }),
  );
  return await peer(`kv-limit-server ${mode}`, t, async () => {
    // Its file goes with it: its dirty pages are dropped, not written back during the next run.
    for (const suffix of ["", "-wal", "-shm"]) removeNow(kvPath + suffix);
    await settleDisk();
  });
}

/**
 * bench/pipeline/bare_pipeline.ts delivering to `destPort`, its KV file in `dir`: the engine's
 * pipeline with only what its guarantees need, the limit for the whole pipeline in one process.
 */
export async function startBarePipeline(dir: string, destPort: number): Promise<Peer> {
  const kvPath = `${dir}/bare-pipeline.kv`;
  const t = spawn(
    "bare pipeline",
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        new URL("bare_pipeline.ts", import.meta.url).pathname,
        String(destPort),
        kvPath,
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }),
  );
  return await peer("bare pipeline (same rows and guarantees, nothing else)", t, async () => {
    for (const suffix of ["", "-wal", "-shm"]) removeNow(kvPath + suffix);
    await settleDisk();
  });
}

/**
 * Flushes the page cache's dirty pages (`sync`), so a run does not pay for the writeback of the
 * one before it in its own fsyncs. Does nothing where `sync` is missing.
 */
export async function settleDisk(): Promise<void> {
  try {
    await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output();
  } catch { /* no sync here */ }
}

async function peer(name: string, t: Tracked, after?: () => Promise<void>): Promise<Peer> {
  let port: number;
  try {
    const first = JSON.parse(await firstLine(t.child.stdout, name)) as { listening: number };
    port = first.listening;
  } catch (error) {
    await stopChild(t, "SIGKILL", 5000);
    throw error;
  }
  return {
    name,
    port,
    stop: async () => {
      await stopChild(t, "SIGTERM", 5000);
      await after?.();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU per thread (/proc/<pid>/task/*/stat)
// ---------------------------------------------------------------------------------------------

/** CPU time of a process and of each of its live threads, in clock ticks. */
export interface CpuSnapshot {
  /** utime + stime of the whole process (threads that exited included). */
  total: number;
  /** Live threads by tid. */
  threads: Map<number, { comm: string; ticks: number }>;
}

/** utime + stime and comm from a /proc stat line (comm may hold spaces and parentheses). */
function parseStat(line: string): { comm: string; ticks: number } {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  const rest = line.slice(close + 2).split(" ");
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  return {
    comm: line.slice(open + 1, close),
    ticks: Number(rest[11]) + Number(rest[12]),
  };
}

/** Reads the process's and every thread's CPU time. */
export function cpuSnapshot(pid: number): CpuSnapshot {
  const total = parseStat(Deno.readTextFileSync(`/proc/${pid}/stat`)).ticks;
  const threads = new Map<number, { comm: string; ticks: number }>();
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(
        Number(e.name),
        parseStat(Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`)),
      );
    } catch { /* the thread ended meanwhile */ }
  }
  return { total, threads };
}

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 when unknown). */
export async function ticksPerSecond(): Promise<number> {
  if (clockTicks !== undefined) return clockTicks;
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    clockTicks = Number(decoder.decode(out.stdout).trim()) || 100;
  } catch {
    clockTicks = 100;
  }
  return clockTicks;
}

/** CPU used between two snapshots, per group of threads, in milliseconds. */
export interface CpuRow {
  /** The thread group. */
  group: string;
  /** Threads in it. */
  threads: number;
  /** CPU milliseconds between the snapshots. */
  ms: number;
}

/**
 * CPU between `before` and `after`, by thread group: the main thread (JS, tid = pid), Tokio's
 * workers (I/O and blocking ops), V8's platform workers (GC, compilation), the KV SQLite thread
 * (`sw-0`: it exists only once a KV is open), the other threads named `deno`, any other name as
 * it is, and the threads that ended between the snapshots (the process total less the live ones).
 */
export function cpuByGroup(
  pid: number,
  before: CpuSnapshot,
  after: CpuSnapshot,
  ticksPerS: number,
): CpuRow[] {
  const groups = new Map<string, { threads: number; ticks: number }>();
  const add = (group: string, ticks: number, threads = 1) => {
    const g = groups.get(group) ?? { threads: 0, ticks: 0 };
    g.threads += threads;
    g.ticks += ticks;
    groups.set(group, g);
  };
  let live = 0;
  for (const [tid, t] of after.threads) {
    const ticks = t.ticks - (before.threads.get(tid)?.ticks ?? 0);
    live += ticks;
    const group = tid === pid
      ? "main thread (JS)"
      : t.comm.startsWith("tokio-runtime")
      ? "tokio workers"
      : t.comm.startsWith("V8 ")
      ? "V8 platform workers (GC, compile)"
      : t.comm.startsWith("sw-")
      ? "KV SQLite thread (sw-N)"
      : t.comm === "deno"
      ? "other threads named deno"
      : t.comm;
    add(group, ticks);
  }
  const gone = after.total - before.total - live;
  if (gone > 0) add("threads that ended", gone, 0);
  return [...groups.entries()]
    .map(([group, g]) => ({ group, threads: g.threads, ms: (g.ticks * 1000) / ticksPerS }))
    .sort((a, b) => b.ms - a.ms);
}

/** The whole machine's CPU time from /proc/stat, in clock ticks. */
export interface MachineCpu {
  /** Ticks not idle, not waiting for I/O and not stolen, summed over every core. */
  busy: number;
  /** Cores (the `cpuN` lines). */
  cores: number;
}

/** Reads the machine's CPU time: every process, the load generators and peers included. */
export function machineCpu(): MachineCpu {
  const lines = Deno.readTextFileSync("/proc/stat").split("\n");
  // cpu  user nice system idle iowait irq softirq steal …: busy is user to softirq less idle and
  // iowait (steal is time the hypervisor gave to others).
  const f = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = f.slice(0, 7).reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
  return { busy, cores: lines.filter((l) => /^cpu\d/.test(l)).length };
}

/** Machine CPU between two readings over `seconds`: cores busy, and µs per message of `count`. */
export function machineShare(
  before: MachineCpu,
  after: MachineCpu,
  ticksPerS: number,
  seconds: number,
  count: number,
): { coresBusy: number; cores: number; usPerMsg: number } {
  const s = (after.busy - before.busy) / ticksPerS;
  return {
    coresBusy: s / Math.max(1e-9, seconds),
    cores: after.cores,
    usPerMsg: (s * 1e6) / Math.max(1, count),
  };
}

// ---------------------------------------------------------------------------------------------
// Latency from the engine's own records (read after it stopped)
// ---------------------------------------------------------------------------------------------

/**
 * Receive → delivered latencies in ms of the messages received in [`since`, `until`) (`Date.now()`
 * times), from the engine's KV file once the engine has stopped: for each SUCCEEDED SEND log, the
 * time of its last attempt (stamped when the destination's ACK came back) less the `receivedAt`
 * of the message it sent (or of the message that one was derived from). Sorted ascending.
 */
export async function deliveredLatencies(
  kvPath: string,
  since: number,
  until: number,
): Promise<{ sorted: number[]; sendLogs: number; noAttempt: number }> {
  const kv = await Deno.openKv(kvPath);
  const out: number[] = [];
  let sendLogs = 0, noAttempt = 0;
  const received = new Map<string, number | undefined>();
  const receivedAt = async (id: string): Promise<number | undefined> => {
    if (received.has(id)) return received.get(id);
    const m = (await kv.get<MessageRecord>(keys.message(id))).value;
    const at = !m ? undefined : m.derivedFrom ? await receivedAt(m.derivedFrom) : m.receivedAt;
    received.set(id, at);
    return at;
  };
  try {
    for await (const e of kv.list<LogRecord>({ prefix: keys.logPrefix })) {
      const l = e.value;
      // A SEND log is made after its message was received: older ones are outside the window.
      if (l.type !== "SEND" || l.createdAt < since) continue;
      const r = await receivedAt(l.messageId);
      if (r === undefined || r < since || r >= until) continue;
      sendLogs++;
      const at = l.status === "SUCCEEDED" ? l.attempts?.[l.attempts.length - 1]?.at : undefined;
      if (at === undefined) {
        noAttempt++;
        continue;
      }
      out.push(at - r);
    }
  } finally {
    kv.close();
  }
  return { sorted: out.sort((a, b) => a - b), sendLogs, noAttempt };
}

/** The `p` quantile (0..1) of an ascending list (NaN when empty). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
