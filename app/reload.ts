/**
 * Config reload without a restart (`POST /admin/config/reload`, SIGHUP): reads the config file
 * again, validates it fully, refuses what cannot be applied live, then binds new MLLP ports, swaps
 * the engine's config (engine.ts `reconfigure`) and closes the ports no integration uses any more.
 * A refused reload changes nothing. Reloads run one at a time.
 * @module
 */

import {
  type Config,
  parseConfigText,
  processSources,
  readConfigText,
} from "../actors/config/mod.ts";
import type { Engine } from "../actors/engine/engine.ts";
import { configHash } from "../actors/engine/config_holder.ts";
import {
  type ReloadProblem,
  removedDestinations,
  restartNeeded,
  sameJson,
  unboundPort,
} from "../actors/engine/reconfigure.ts";
import { destinationActorId } from "../actors/engine/identities.ts";
import { carryImportedSets } from "../actors/engine/translation_sets.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { errorMessage } from "../actors/mod.ts";
import type { ConfigAdmin } from "../transports/http/operations.ts";
import { bindMllp, type BoundMllpListener, type MllpServer } from "../transports/mllp/server.ts";

/** The answer of a reload (`POST /admin/config/reload`). */
export type ReloadResult = Awaited<ReturnType<ConfigAdmin["reload"]>>;

/** Binds the MLLP listener of `port` with the settings `config` gives it. */
export function bindListener(
  port: number,
  config: Config,
  log: Logger,
): Promise<BoundMllpListener> {
  const l = config.listeners.find((x) => x.port === port);
  return bindMllp({
    port,
    hostname: l?.hostname ?? "0.0.0.0",
    requireFinalCr: l?.requireFinalCr ?? true,
    frameTimeoutMs: config.limits.frameTimeoutSeconds * 1000,
    maxConnections: config.limits.maxConnectionsPerListener,
    maxConnectionsPerPeer: config.limits.maxConnectionsPerPeer,
    ...(l?.tls
      ? {
        tls: {
          cert: l.tls.cert.reveal(),
          key: l.tls.key.reveal(),
          ...(l.tls.ca ? { ca: l.tls.ca.reveal() } : {}),
          requireClientCert: l.tls.requireClientCert,
        },
      }
      : {}),
    log,
  });
}

/** The local ports of MLLP integrations, each once, in the order the config first names them. */
export function mllpPorts(config: Config): number[] {
  return [...new Set(config.integrations.flatMap((i) => i.mllp ? [i.mllp.port] : []))];
}

/** `config` with each MLLP port 0 (integrations and listeners) replaced by `chosen`. */
export function withPort0(config: Config, chosen: number | undefined): Config {
  if (chosen === undefined) return config;
  return {
    ...config,
    integrations: config.integrations.map((i) =>
      i.mllp?.port === 0 ? { ...i, mllp: { ...i.mllp, port: chosen } } : i
    ),
    listeners: config.listeners.map((l) => l.port === 0 ? { ...l, port: chosen } : l),
  };
}

/** What a {@link ConfigReloader} works on. */
export interface ReloaderOptions {
  /** The config file (`serve --config FILE`). */
  file: string;
  engine: Engine;
  /** The running MLLP servers (compose's `servers.mllp`): changed in place. */
  servers: MllpServer[];
  /** The port a configured port 0 was bound to: port 0 in the file stays that port. */
  port0?: number;
  log: Logger;
  now?: () => number;
}

/** See the module doc. */
export class ConfigReloader implements ConfigAdmin {
  readonly #o: ReloaderOptions;
  #port0: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Servers this reloader opened (closed by {@link close}). */
  readonly #opened = new Set<MllpServer>();

  /** A reloader of `options.file` for the running engine. */
  constructor(options: ReloaderOptions) {
    this.#o = options;
    this.#port0 = options.port0;
  }

  /**
   * The version hash of the file's text as it is now (the engine starts with it); throws with the
   * read's message, which names the file, when it cannot be read.
   */
  static async hashOf(file: string): Promise<string> {
    const read = await readConfigText(file);
    if (!read.ok) throw new Error(read.message);
    return await configHash(read.text);
  }

  /** The running version. */
  current(): { version: string; hash: string; generation: number; loadedAt: number; file: string } {
    const v = this.#o.engine.configVersion;
    return { version: `${v.hash}@${v.generation}`, ...v, file: this.#o.file };
  }

  /** Reloads (one at a time); never rejects: a failure is an answer. */
  reload(by: string): Promise<ReloadResult> {
    const run = this.#queue.then(() => this.#reload(by)).catch((error): ReloadResult => {
      this.#o.log.error("config.reload-failed", { by, error });
      return { ok: false, status: 500, error: `reload failed: ${errorMessage(error)}` };
    });
    this.#queue = run;
    return run;
  }

  /** Closes the MLLP servers reloads opened. */
  async close(): Promise<void> {
    await Promise.all([...this.#opened].map((s) => s.close()));
  }

  async #reload(by: string): Promise<ReloadResult> {
    const { file, engine, log } = this.#o;
    const refuse = (status: 400 | 409 | 500, error: string, problems?: ReloadProblem[]) => {
      log.warn("config.reload-refused", { by, file, error, problems });
      return { ok: false as const, status, error, ...(problems ? { problems } : {}) };
    };
    // A file that is not a regular one (a FIFO would block the reload queue) or over 16 MiB is
    // refused before it is read.
    const read = await readConfigText(file);
    if (!read.ok) return refuse(400, read.message, [{ path: "$", message: read.message }]);
    const text = read.text;
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) || "/" : ".";
    const parsed = parseConfigText(text, processSources(dir));
    if (!parsed.ok) {
      const n = parsed.problems.length;
      return refuse(400, `invalid config: ${n} problem${n === 1 ? "" : "s"}; nothing changed`, [
        ...parsed.problems,
      ]);
    }
    const running = engine.config;
    let next = withPort0(parsed.config, this.#port0);
    const hash = await configHash(text);
    if (sameJson(running, next)) {
      return { ok: true, version: this.current().version, changed: false, applied: [] };
    }

    const live = restartNeeded(running, next);
    if (live.length > 0) {
      return refuse(409, "these changes need a restart; nothing changed", live);
    }
    // A removed destination's queued messages would have nowhere to go: refused, not dropped.
    const queued: ReloadProblem[] = [];
    for (const d of removedDestinations(running, next)) {
      const queue = destinationActorId(d);
      // An MLLP address other destinations still use keeps its actor and delivers the queue.
      if (next.destinations.some((x) => destinationActorId(x) === queue)) continue;
      const depth = await engine.store.depth(queue);
      if (depth > 0) {
        const i = running.destinations.indexOf(d);
        queued.push({
          path: `$.destinations[${i}]`,
          message: `destination ${d.id} still has ${depth} queued message${
            depth === 1 ? "" : "s"
          } (${queue}): let it drain, or skip them, before removing it`,
        });
      }
    }
    if (queued.length > 0) {
      return refuse(409, "cannot remove a destination whose queue is not empty", queued);
    }

    // New ports are bound before anything changes: a port that cannot be bound (in use, not
    // permitted, an address this host lacks) refuses all, naming each port's field and reason.
    const before = mllpPorts(running);
    const added = mllpPorts(next).filter((p) => !before.includes(p));
    const bound: BoundMllpListener[] = [];
    const unbound: ReloadProblem[] = [];
    for (const port of added) {
      try {
        bound.push(await bindListener(port, next, log));
      } catch (error) {
        unbound.push(unboundPort(next, port, errorMessage(error)));
      }
    }
    if (unbound.length > 0) {
      for (const l of bound) l.close();
      return refuse(409, "cannot listen on a new MLLP port; nothing changed", unbound);
    }
    // Every new port is bound (in `added`'s order): a port 0 is the one the OS chose.
    const chosen = bound[added.indexOf(0)]?.port;
    if (chosen !== undefined) {
      this.#port0 = chosen;
      next = withPort0(next, chosen);
    }

    carryImportedSets(running, next);
    const applied = await engine.reconfigure(next, hash, this.#o.now?.() ?? Date.now());
    for (const listener of bound) {
      const server = listener.serve(engine.inbox);
      this.#o.servers.push(server);
      this.#opened.add(server);
      applied.push(`listening on MLLP port ${server.port}`);
    }
    // Ports no integration uses: closed (their connections with them); the others are untouched.
    const ports = mllpPorts(next);
    for (const server of [...this.#o.servers]) {
      if (ports.includes(server.port)) continue;
      this.#o.servers.splice(this.#o.servers.indexOf(server), 1);
      this.#opened.delete(server);
      await server.close();
      applied.push(`closed MLLP port ${server.port}`);
    }
    const version = engine.configVersion;
    // With everything applied, the listeners' changes included (config.applied came before them).
    log.info("config.reloaded", {
      by,
      file,
      version: `${version.hash}@${version.generation}`,
      applied,
    });
    return { ok: true, version: `${version.hash}@${version.generation}`, changed: true, applied };
  }
}
