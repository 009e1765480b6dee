/**
 * MLLP port 0 in a config: the listener binds a port the system chooses, and the engine is given
 * the config with that port in place of the zero (an MLLP integration's identity is its port).
 * @module
 */

import type { Config } from "../actors/config/mod.ts";
import { withPort0 } from "./reload.ts";
import type { BoundMllpListener } from "../transports/mllp/server.ts";

/** `config` with each MLLP port 0 (integrations and listeners) replaced by the bound port. */
export function withBoundPorts(
  config: Config,
  bound: ReadonlyMap<number, BoundMllpListener>,
): Config {
  return withPort0(config, bound.get(0)?.port);
}
