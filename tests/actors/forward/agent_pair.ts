/**
 * Two real engines as child processes (`main.ts serve`, each on its own KV file) in agent mode:
 * a site engine taking MLLP and forwarding every message to a central engine over HTTP, which
 * delivers to an MLLP receiver the test runs. The central engine keeps its ports and KV across a
 * restart, so a test can kill it mid-load and start it again.
 * @module
 */

import assert from "node:assert/strict";
import { freePort, waitFor } from "../../helpers/net.ts";

const root = new URL("../../../", import.meta.url).pathname;

/** The site's credentials at the central engine (client credentials of source `site-a`). */
const CLIENT_ID = "site-a-agent";
const CLIENT_SECRET = "site-a-secret-0123456789abcdef";
/** The admin token of both engines. */
export const ADMIN_TOKEN = "agent-admin-token-0123456789abcdef";

/** One engine child process. */
export class EngineChild {
  readonly name: string;
  readonly httpPort: number;
  readonly #configFile: string;
  #child: Deno.ChildProcess | undefined;
  #output = "";
  #drained: Promise<unknown> = Promise.resolve();
  #exited = true;

  private constructor(name: string, configFile: string, httpPort: number) {
    this.name = name;
    this.#configFile = configFile;
    this.httpPort = httpPort;
  }

  /** Writes `config` into `dir` and starts the engine on it. */
  static async start(
    name: string,
    dir: string,
    config: Record<string, unknown>,
    httpPort: number,
    mllpListeners: number,
  ): Promise<EngineChild> {
    const file = `${dir}/${name}.json`;
    await Deno.writeTextFile(file, JSON.stringify(config, null, 2));
    const engine = new EngineChild(name, file, httpPort);
    try {
      await engine.restart(mllpListeners);
    } catch (error) {
      // Not listening in time: it may still run, on a KV in the folder the caller removes next.
      await engine.stop("SIGKILL");
      throw error;
    }
    return engine;
  }

  /** Starts the process (again) and waits until its listeners are up. */
  async restart(mllpListeners: number): Promise<void> {
    assert.ok(this.#exited, `${this.name} is already running`);
    const before = this.#output.length;
    this.#exited = false;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "serve", "--config", this.#configFile],
      cwd: root,
      env: { NO_COLOR: "1", AGENT_SECRET: CLIENT_SECRET, AGENT_ADMIN: ADMIN_TOKEN },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    child.status.then(() => (this.#exited = true));
    this.#drained = Promise.all([child.stdout, child.stderr].map(async (stream) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this.#output += chunk;
    }));
    await waitFor(`${this.name} listening`, () => {
      if (this.#exited) throw new Error(`${this.name} exited:\n${this.#output.slice(before)}`);
      const now = this.#output.slice(before);
      return count(now, "http.listening") === 1 && count(now, "mllp.listening") === mllpListeners;
    }, 30_000);
  }

  /** Everything the engine wrote so far (all runs). */
  get output(): string {
    return this.#output;
  }

  /** Stops the process with `signal` (SIGKILL: no shutdown at all) and waits for it. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (!this.#child || this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child?.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 10_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#drained;
  }

  /** A GET of the admin API, parsed. */
  async admin<T>(path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const body = await res.text();
    assert.equal(res.status, 200, `${this.name} GET ${path}: ${body}`);
    return JSON.parse(body) as T;
  }

  /** Every log of `type` (all pages), oldest first. */
  async logs(type: "RECEIVE" | "SEND"): Promise<AdminLog[]> {
    const out: AdminLog[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const q = `/admin/logs?type=${type}&limit=500${cursor ? `&cursor=${cursor}` : ""}`;
      const body: { logs: AdminLog[]; next: string | null } = await this.admin(q);
      out.push(...body.logs);
      cursor = body.next;
      if (!cursor) return out.reverse();
    }
    throw new Error("more than 50 pages of logs");
  }

  /** Fails when the output shows an unhandled rejection or an uncaught error. */
  assertNoUnhandled(): void {
    assert.doesNotMatch(this.#output, /uncaught|unhandled/i, `${this.name}:\n${this.#output}`);
  }
}

/** A log as `GET /admin/logs` lists it (the fields the tests read). */
export interface AdminLog {
  id: string;
  messageId: string;
  status: string;
  controlId?: string;
  integrationId?: string;
  destinationId?: string;
  attempts: { outcome: string; reason?: string }[];
  attemptCount: number;
}

function count(text: string, event: string): number {
  return text.split("\n").filter((l) => l.split(" ").includes(event)).length;
}

/** The two engines and their ports. */
export interface AgentPair {
  dir: string;
  site: EngineChild;
  central: EngineChild;
  /** The site's MLLP ports: `adt-in` (original mode), `adt-enh` and `adt-enh-json` (enhanced). */
  sitePorts: { original: number; enhanced: number; enhancedJson: number };
  stop(): Promise<void>;
}

/**
 * Starts the central engine (delivering to `receiverPort`) and the site engine forwarding to
 * `forwardUrl(centralBase)` (the central engine itself unless a test puts a proxy between).
 */
export async function startAgentPair(options: {
  receiverPort: number;
  forwardUrl?: (centralBase: string) => string;
  forwardTimeoutSeconds?: number;
}): Promise<AgentPair> {
  const dir = await Deno.makeTempDir({ prefix: "agent-pair-" });
  // Chosen ahead, not 0: child processes bind them, and the site's config names central's port.
  const centralHttp = freePort();
  const siteHttp = freePort();
  const sitePorts = { original: freePort(), enhanced: freePort(), enhancedJson: freePort() };
  const centralBase = `http://127.0.0.1:${centralHttp}`;
  const central = centralConfig(dir, centralHttp, options.receiverPort);
  const site = siteConfig(
    dir,
    siteHttp,
    sitePorts,
    options.forwardUrl ? options.forwardUrl(centralBase) : centralBase,
    centralBase,
    options.forwardTimeoutSeconds ?? 10,
  );
  const engines: EngineChild[] = [];
  const pair: AgentPair = {
    dir,
    site: undefined as unknown as EngineChild,
    central: undefined as unknown as EngineChild,
    sitePorts,
    async stop() {
      for (const e of engines) await e.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    pair.central = await EngineChild.start("central", dir, central, centralHttp, 0);
    engines.push(pair.central);
    pair.site = await EngineChild.start("site", dir, site, siteHttp, 3);
    engines.push(pair.site);
  } catch (error) {
    await pair.stop();
    throw error;
  }
  return pair;
}

/** The site: three MLLP integrations, every message forwarded to the central engine. */
export function siteConfig(
  dir: string,
  httpPort: number,
  ports: AgentPair["sitePorts"],
  forwardUrl: string,
  centralBase: string,
  timeoutSeconds: number,
): Record<string, unknown> {
  const mllp = (port: number, ackMode: string) => ({
    port,
    allowedIps: ["127.0.0.0/8"],
    ackMode,
  });
  return {
    node: { id: "site" },
    kv: { path: `${dir}/site.kv` },
    http: { port: httpPort, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "AGENT_ADMIN" } },
    environments: [{ id: "dev", type: "development" }],
    listeners: Object.values(ports).map((port) => ({ port, hostname: "127.0.0.1" })),
    integrations: [
      { id: "adt-in", environment: "dev", mllp: mllp(ports.original, "original") },
      { id: "adt-enh", environment: "dev", mllp: mllp(ports.enhanced, "enhanced") },
      { id: "adt-enh-json", environment: "dev", mllp: mllp(ports.enhancedJson, "enhanced") },
    ],
    destinations: [{
      id: "central",
      environment: "dev",
      forward: {
        url: forwardUrl,
        timeoutSeconds,
        auth: {
          type: "oauth2",
          tokenUrl: `${centralBase}/v2/auth/token`,
          clientId: CLIENT_ID,
          clientSecret: { env: "AGENT_SECRET" },
        },
      },
    }],
    subscriptions: [
      { from: { integration: "adt-in" }, to: ["central"] },
      { from: { integration: "adt-enh" }, to: ["central"] },
      { from: { integration: "adt-enh-json" }, to: ["central"] },
    ],
  };
}

/**
 * The central engine: source `site-a` (the site's client), its integrations mapped to the site's
 * (one whose flow has an HL7 edit that fails: the application step fails it), and the
 * receiver as an MLLP destination.
 */
export function centralConfig(
  dir: string,
  httpPort: number,
  receiverPort: number,
): Record<string, unknown> {
  const mapped = (id: string, from: string) => ({
    id,
    environment: "dev",
    forward: { source: "site-a", sourceIntegration: from },
  });
  return {
    node: { id: "central" },
    kv: { path: `${dir}/central.kv` },
    http: { port: httpPort, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "AGENT_ADMIN" } },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "site-a",
      environment: "dev",
      clientId: CLIENT_ID,
      auth: { secret: { env: "AGENT_SECRET" } },
    }],
    integrations: [
      mapped("site-a-adt", "adt-in"),
      mapped("site-a-enh", "adt-enh"),
      mapped("site-a-json", "adt-enh-json"),
    ],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: receiverPort, ackTimeoutSeconds: 5 },
    }],
    subscriptions: [
      { from: { integration: "site-a-adt" }, to: ["ehr"] },
      { from: { integration: "site-a-enh" }, to: ["ehr"] },
      // `main.ts check` refuses JSON to an MLLP destination: an HL7 edit that fails every
      // message (no entry for PID-8 "F") fails this flow in the application step instead.
      {
        from: { integration: "site-a-json" },
        to: ["ehr"],
        hl7Edits: [{ op: "translate", path: "PID-8", set: "noSex" }],
      },
    ],
    translationSets: { noSex: { entries: { M: "M" }, onMissing: "fail" } },
  };
}
