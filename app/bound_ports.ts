/**
 * MLLP port 0 in a config: the listener binds a port the system chooses, and the engine is given
 * the config with that port in place of the zero (an MLLP integration's identity is its port).
 * @module
 */

import type { Config } from "../actors/config/mod.ts";
import type { BoundMllpListener } from "../transports/mllp/server.ts";

/** `config` with each MLLP port 0 (integrations and listeners) replaced by the bound port. */
export function withBoundPorts(
  config: Config,
  bound: ReadonlyMap<number, BoundMllpListener>,
): Config {
  const chosen = bound.get(0)?.port;
  if (chosen === undefined) return config;
  return {
    ...config,
    integrations: config.integrations.map((i) =>
      i.mllp?.port === 0 ? { ...i, mllp: { ...i.mllp, port: chosen } } : i
    ),
    listeners: config.listeners.map((l) => l.port === 0 ? { ...l, port: chosen } : l),
  };
}
