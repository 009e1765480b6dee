/**
 * The real engine under test, as a child process: `main.ts serve` on a temp KV file, with a plain
 * and a TLS MLLP listener, plain HTTP (development), an API source with a client secret, and one
 * MLLP destination pointing at a real receiver on loopback. Small frame and HTTP timeouts let the
 * hostile cases finish quickly. {@link EngineProcess.assertHealthy} checks what every robustness
 * case must leave behind: the process alive, every listener accepting and answering `AA`, the
 * message stored and delivered, MLLP connections released, memory bounded, no unhandled rejection.
 * @module
 */

import assert from "node:assert/strict";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { controlIds, type RawReceiver, startReceiver } from "../helpers/receivers.ts";
import { makePki, type TestPki } from "../helpers/tls.ts";
import { HostilePeer } from "./hostile_peer.ts";

const root = new URL("../../", import.meta.url).pathname;

/** The API source's client id and secret (the secret reaches the engine by environment). */
export const CLIENT_ID = "robust-client";
const CLIENT_SECRET = "robust-client-secret-0123456789";
const ADMIN_TOKEN = "robust-admin-token-0123456789abcdef";

/**
 * Limits the engine under test runs with (short timeouts, small frames, modest caps). The HTTP
 * timeouts leave a busy machine room for the large bodies and headers the cases send at once: a
 * 40 MB body took over 1 s to arrive beside two CPU hogs and the rest of the suite (a 408 where the
 * case expects its 400).
 */
export const LIMITS = {
  frameTimeoutSeconds: 1,
  httpHeaderTimeoutSeconds: 3,
  httpBodyTimeoutSeconds: 5,
  maxHl7Bytes: 64 * 1024,
  maxConnectionsPerListener: 60,
  maxConnectionsPerPeer: 40,
  maxJsonDepth: 64,
} as const;

/** Growth of the child's RSS a case may cause unless it says otherwise. */
export const DEFAULT_RSS_ALLOWANCE_KB = 100 * 1024;

let controlCounter = 0;

/** A control id unique over the test run (MSH-10). */
export function nextControlId(prefix = "R"): string {
  return `${prefix}${Date.now().toString(36)}${(++controlCounter).toString(36)}`.toUpperCase();
}

/** A running engine child process; see the module doc. */
export class EngineProcess {
  /** The plain MLLP port (integration `feed`). */
  readonly mllpPort: number;
  /** The TLS MLLP port (integration `feed-tls`). */
  readonly tlsPort: number;
  /** The HTTP port (plain, development). */
  readonly httpPort: number;
  /** The PKI the TLS listener's certificate comes from. */
  readonly pki: TestPki;
  /** The receiver the engine delivers to. */
  readonly receiver: RawReceiver;
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;
  readonly #drained: Promise<unknown>;
  #output = "";
  #exit: Deno.CommandStatus | undefined;

  private constructor(
    ports: { mllp: number; tls: number; http: number },
    pki: TestPki,
    receiver: RawReceiver,
    child: Deno.ChildProcess,
    dir: string,
  ) {
    this.mllpPort = ports.mllp;
    this.tlsPort = ports.tls;
    this.httpPort = ports.http;
    this.pki = pki;
    this.receiver = receiver;
    this.#child = child;
    this.#dir = dir;
    child.status.then((s) => this.#exit = s);
    this.#drained = Promise.all([child.stdout, child.stderr].map(async (stream) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this.#output += chunk;
    }));
  }

  /** Writes the config, starts the engine and waits until all its listeners are up. */
  static async start(): Promise<EngineProcess> {
    const dir = await Deno.makeTempDir({ prefix: "robust-engine-" });
    const pki = await makePki();
    await Deno.writeTextFile(`${dir}/server.crt`, pki.serverCert);
    await Deno.writeTextFile(`${dir}/server.key`, pki.serverKey);
    const receiver = startReceiver((f) => f.ack("AA"));
    // Chosen ahead, not 0: the engine child process binds them from its config file.
    const ports = { mllp: freePort(), tls: freePort(), http: freePort() };
    const config = {
      node: { id: "robust" },
      kv: { path: `${dir}/engine.kv` },
      http: { port: ports.http, hostname: "127.0.0.1", development: true },
      admin: { token: { env: "ROBUST_ADMIN_TOKEN" } },
      limits: LIMITS,
      environments: [{ id: "dev", type: "development" }],
      sources: [{
        id: "robust-app",
        environment: "dev",
        clientId: CLIENT_ID,
        auth: { secret: { env: "ROBUST_CLIENT_SECRET" } },
      }],
      listeners: [{
        port: ports.tls,
        hostname: "127.0.0.1",
        tls: { cert: { file: `${dir}/server.crt` }, key: { file: `${dir}/server.key` } },
      }],
      integrations: [
        {
          id: "feed",
          environment: "dev",
          timeZone: "UTC",
          mllp: { port: ports.mllp, allowedIps: ["127.0.0.0/8"] },
        },
        {
          id: "feed-tls",
          environment: "dev",
          timeZone: "UTC",
          mllp: { port: ports.tls, allowedIps: ["127.0.0.0/8"] },
        },
      ],
      destinations: [{
        id: "out",
        environment: "dev",
        mllp: { host: "127.0.0.1", port: receiver.port, ackTimeoutSeconds: 5 },
      }],
      subscriptions: [
        { id: "plain", from: { integration: "feed" }, to: ["out"] },
        { id: "tls", from: { integration: "feed-tls" }, to: ["out"] },
      ],
    };
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "serve", "--config", `${dir}/config.json`],
      cwd: root,
      env: {
        NO_COLOR: "1",
        ROBUST_ADMIN_TOKEN: ADMIN_TOKEN,
        ROBUST_CLIENT_SECRET: CLIENT_SECRET,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const engine = new EngineProcess(ports, pki, receiver, child, dir);
    try {
      await waitFor("the engine listening", () => {
        if (engine.#exit) throw new Error(`the engine exited:\n${engine.#output}`);
        return engine.lines("mllp.listening").length === 2 &&
          engine.lines("http.listening").length === 1;
      }, 30_000);
      // Warm up (and check the start): the RSS baselines of the cases come after this.
      await engine.assertHealthy(await engine.rssKb(), Infinity);
    } catch (error) {
      await engine.stop();
      throw error;
    }
    return engine;
  }

  /** Everything the engine wrote to stdout and stderr so far. */
  get output(): string {
    return this.#output;
  }

  /** True while the child process runs. */
  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** Resolves once the child has exited and its output is read. */
  get exited(): Promise<void> {
    return this.#child.status.then(() => this.#drained).then(() => {});
  }

  /** The engine's KV file. */
  get kvPath(): string {
    return `${this.#dir}/engine.kv`;
  }

  /** The child's pid. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Log lines whose event is `event`. */
  lines(event: string): string[] {
    return this.#output.split("\n").filter((l) => l.split(" ").some((w) => w === event));
  }

  /** The child's resident set size in KiB, from /proc/<pid>/status. */
  async rssKb(): Promise<number> {
    const status = await Deno.readTextFile(`/proc/${this.pid}/status`);
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (!m) throw new Error(`no VmRSS in /proc/${this.pid}/status`);
    return Number(m[1]);
  }

  /** `http://127.0.0.1:<httpPort>`. */
  get base(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** A GET to the admin API; the parsed JSON body (fails on a non-200). */
  async admin(path: string): Promise<unknown> {
    const res = await fetch(`${this.base}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const body = await res.text();
    assert.equal(res.status, 200, `GET ${path}: ${body}`);
    return JSON.parse(body);
  }

  /** Control ids of every RECEIVE log of MLLP integrations (all pages). */
  async receivedControlIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const q: string = `/admin/logs?type=RECEIVE&limit=500${cursor ? `&cursor=${cursor}` : ""}`;
      const body = await this.admin(q) as {
        logs: { controlId?: string }[];
        next: string | null;
      };
      for (const l of body.logs) if (l.controlId) ids.add(l.controlId);
      cursor = body.next;
      if (!cursor) return ids;
    }
    throw new Error("more than 100 pages of RECEIVE logs");
  }

  /** An access token for the API source. */
  async token(): Promise<string> {
    const res = await fetch(`${this.base}/v2/auth/token`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}` },
      body: new URLSearchParams({ grant_type: "client_credentials" }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, `token refused: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  /** Open MLLP connections of a port, as `/metrics` reports them. */
  async mllpConnections(port: number): Promise<number> {
    const text = await (await fetch(`${this.base}/metrics`)).text();
    const m = new RegExp(`^engine_mllp_connections\\{port="${port}"\\} (\\d+)$`, "m").exec(text);
    if (!m) throw new Error(`no engine_mllp_connections for port ${port} in /metrics:\n${text}`);
    return Number(m[1]);
  }

  /** Sends one normal ADT^A01 on the plain listener; returns its control id after an `AA`. */
  async sendNormal(): Promise<string> {
    const id = nextControlId("OKP");
    const sender = await RawMllpSender.connect(this.mllpPort);
    try {
      const ack = summarizeAck(await sender.request(adt(id), 10_000));
      assert.equal(ack.code, "AA", `normal message on the plain listener: ${JSON.stringify(ack)}`);
      assert.equal(ack.msa2, id);
    } finally {
      await sender.close();
    }
    return id;
  }

  /** Sends one normal ADT^A01 on the TLS listener; returns its control id after an `AA`. */
  async sendNormalTls(): Promise<string> {
    const id = nextControlId("OKT");
    const peer = await HostilePeer.connect(this.tlsPort, { tlsCa: this.pki.caCert });
    try {
      const ack = summarizeAck(await peer.request(adt(id), 10_000));
      assert.equal(ack.code, "AA", `normal message on the TLS listener: ${JSON.stringify(ack)}`);
      assert.equal(ack.msa2, id);
    } finally {
      await peer.close();
    }
    return id;
  }

  /** Fails when the output shows an unhandled rejection or an uncaught error. */
  assertNoUnhandled(): void {
    assert.doesNotMatch(this.#output, /uncaught|unhandled/i, `engine output:\n${this.#output}`);
  }

  /**
   * The invariants of every case: alive, no unhandled rejection, `/healthz` 200, both listeners
   * answer a normal message with `AA`, it is stored and delivered, MLLP connections drain back to
   * zero, and RSS grew by at most `rssAllowanceKb` since `rssBeforeKb`.
   */
  async assertHealthy(
    rssBeforeKb: number,
    rssAllowanceKb = DEFAULT_RSS_ALLOWANCE_KB,
  ): Promise<void> {
    const context = () => `\nengine output (last 4000 chars):\n${this.#output.slice(-4000)}`;
    assert.ok(this.alive, `the engine exited with ${JSON.stringify(this.#exit)}${context()}`);
    this.assertNoUnhandled();
    const health = await fetch(`${this.base}/healthz`);
    assert.equal(health.status, 200, `/healthz: ${await health.text()}${context()}`);
    const plain = await this.sendNormal().catch((e) => {
      throw new Error(`plain listener: ${(e as Error).message}${context()}`);
    });
    const tls = await this.sendNormalTls().catch((e) => {
      throw new Error(`TLS listener: ${(e as Error).message}${context()}`);
    });
    const stored = await this.receivedControlIds();
    assert.ok(stored.has(plain) && stored.has(tls), "both normal messages are stored");
    await waitFor(
      "both normal messages delivered",
      () => controlIds(this.receiver).includes(plain) && controlIds(this.receiver).includes(tls),
      15_000,
    );
    for (const port of [this.mllpPort, this.tlsPort]) {
      await waitFor(
        `the MLLP connections of port ${port} released`,
        async () => await this.mllpConnections(port) === 0,
        10_000,
      );
    }
    const rss = await this.rssKb();
    assert.ok(
      rss - rssBeforeKb <= rssAllowanceKb,
      `RSS grew from ${rssBeforeKb} KiB to ${rss} KiB (allowed +${rssAllowanceKb} KiB)`,
    );
    assert.ok(this.alive, `the engine exited${context()}`);
    this.assertNoUnhandled();
  }

  /** Stops the engine (SIGTERM), the receiver, and removes the temp folders. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already exited */ }
    }, 10_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#drained;
    await this.receiver.close();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    await Deno.remove(this.pki.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * One engine for a whole test file, started again when a case killed it (so one crash fails that
 * case, not every case after it).
 */
export class SharedEngine {
  #engine: EngineProcess | undefined;
  #suspect = false;

  /** The running engine, started (again) if it died or a case left it suspect. */
  async get(): Promise<EngineProcess> {
    if (this.#engine?.alive && !this.#suspect) return this.#engine;
    if (this.#engine) await this.#engine.stop();
    this.#suspect = false;
    this.#engine = await EngineProcess.start();
    return this.#engine;
  }

  /**
   * Runs one case on the engine and then checks {@link EngineProcess.assertHealthy} against the
   * RSS measured before it; the whole case is bounded by `timeoutMs`. A failed case makes the next
   * one start on a fresh engine (a stalled listener must not fail every later case too).
   */
  async runCase(
    name: string,
    fn: (engine: EngineProcess) => Promise<void>,
    options: { timeoutMs?: number; rssAllowanceKb?: number } = {},
  ): Promise<void> {
    const engine = await this.get();
    try {
      const before = await engine.rssKb();
      await withTimeout(name, options.timeoutMs ?? 30_000, async () => {
        await fn(engine);
        await engine.assertHealthy(before, options.rssAllowanceKb);
      });
    } catch (error) {
      this.#suspect = true;
      if (engine.alive) throw error;
      // Whatever the case saw (a refused connection…), the cause is the engine's last words.
      await engine.exited;
      throw new Error(
        `${name}: the engine died (${(error as Error).message}); its output ends:\n` +
          engine.output.slice(-3000),
      );
    }
  }

  /** Stops the engine if one runs. */
  async stop(): Promise<void> {
    await this.#engine?.stop();
    this.#engine = undefined;
  }
}

/** Runs `fn`, failing after `ms` milliseconds: no robustness case may hang the suite. */
export async function withTimeout<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
