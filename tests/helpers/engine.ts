/**
 * The engine as main.ts runs it, for tests: `compose()` from app/compose.ts with a memory logger,
 * a 50 ms poll and no HTTP server unless asked. Give listener ports as 0 in the config: the
 * system picks them and the answer carries the bound ones (no port chosen ahead and raced for).
 * @module
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../actors/config/mod.ts";
import { memoryLogger } from "../../actors/runtime/log.ts";
import { type Adapters, compose, type Composed } from "../../app/compose.ts";

/**
 * `json` parsed as a config file would be, failing the test with the problems if it is not valid;
 * `env` answers `{ env: "NAME" }` references (none by default).
 */
export function configFrom(
  json: unknown,
  env: (name: string) => string | undefined = () => undefined,
): Config {
  const r = parseConfig(json, { env, readFile: () => new Error("none") });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

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
 * MLLP ports without a `listeners` entry listen on 127.0.0.1, and with `http: true` the HTTP
 * server on 127.0.0.1 port 0 (tests stay on loopback, on ports nobody else can be given).
 */
export async function startEngine(
  config: Config,
  adapters: TestAdapters = {},
): Promise<TestEngine> {
  const log = adapters.log ?? memoryLogger();
  const composed = await compose(onLoopback(config), { pollMs: 50, http: false, ...adapters, log });
  const http = composed.servers.http;
  return Object.assign(composed, {
    config: composed.engine.config,
    log,
    mllpPort: composed.servers.mllp[0]?.port ?? 0,
    base: http ? `http://127.0.0.1:${http.port}` : "",
  });
}

/** `config` with HTTP on 127.0.0.1:0 and a loopback `listeners` entry per MLLP port without one. */
function onLoopback(config: Config): Config {
  config = { ...config, http: { ...config.http, port: 0, hostname: "127.0.0.1" } };
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
