/**
 * The engine as main.ts runs it, for tests: `compose()` from app/compose.ts with a memory logger,
 * a 50 ms poll and no HTTP server unless asked. Give listener ports as 0 in the config: the
 * system picks them and the answer carries the bound ones (no port chosen ahead and raced for).
 * @module
 */

import type { Config } from "../../actors/config/mod.ts";
import { memoryLogger } from "../../actors/runtime/log.ts";
import { type Adapters, compose, type Composed } from "../../app/compose.ts";

/** A composed engine and what a test reads from it. */
export interface TestEngine extends Composed {
  /** The config the engine runs, with the bound MLLP ports in place of the zeros. */
  config: Config;
  /** Every log line. */
  log: Adapters["log"] & { lines: string[] };
  /** The port of the first MLLP listener (the config's first MLLP integration). */
  mllpPort: number;
  /** `http://127.0.0.1:<port>` when the HTTP server runs (`http: true`), else empty. */
  base: string;
}

/** What {@link startEngine} takes besides the config: compose's adapters, all optional. */
export type TestAdapters = Partial<Adapters> & { log?: Adapters["log"] & { lines: string[] } };

/**
 * Composes `config` with `adapters` (defaults: a memory logger, `pollMs` 50, `http: false`).
 * With `http: true`, the config's `http.port` should be 0.
 */
export async function startEngine(
  config: Config,
  adapters: TestAdapters = {},
): Promise<TestEngine> {
  const log = adapters.log ?? memoryLogger();
  const composed = await compose(config, { pollMs: 50, http: false, ...adapters, log });
  const http = composed.servers.http;
  return Object.assign(composed, {
    config: composed.engine.config,
    log,
    mllpPort: composed.servers.mllp[0]?.port ?? 0,
    base: http ? `http://127.0.0.1:${http.port}` : "",
  });
}

/** `config` with a loopback `listeners` entry for each MLLP port that has none. */
function onLoopback(config: Config): Config {
  const listed = new Set(config.listeners.map((l) => l.port));
  const ports = new Set(
    config.integrations.flatMap((i) => i.mllp && !listed.has(i.mllp.port) ? [i.mllp.port] : []),
  );
  if (ports.size === 0) return config;
  const loopback = [...ports].map((port) => ({
    port,
    hostname: "127.0.0.1",
    requireFinalCr: true,
  }));
  return { ...config, listeners: [...config.listeners, ...loopback] };
}
