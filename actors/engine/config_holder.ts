/**
 * The running config, swapped as a whole by a reload (app/reload.ts): the engine's routing, its
 * inboxes and its actor factory read `current` per message or activation, never a copy taken at
 * start, so a reload changes what the next message sees and nothing that is in flight.
 *
 * Every path that routes a message (reads the config, then commits the message to its
 * destinations' queues) counts itself in {@link routeBegins} / {@link RoutesInProgress.end} around
 * that read and its commit, so that a reload can wait for the routes begun under the config it
 * replaced ({@link RoutesInProgress.idle}) before it moves their queues (queue_moves.ts).
 * @module
 */

import type { Config } from "../config/mod.ts";

/** Which config is running: a short hash of its file, when it was loaded, and how many loads. */
export interface ConfigVersion {
  /** The first 12 hex digits of the SHA-256 of the config file's text (or of the config). */
  hash: string;
  /** When this version was loaded (ms since the epoch). */
  loadedAt: number;
  /** 1 for the config the engine started with, +1 per applied reload. */
  generation: number;
}

/**
 * The routes in progress under one config: begun (its config read) and not yet committed. One
 * object per config, fetched once per route: counting costs an increment and a decrement.
 */
export class RoutesInProgress {
  /** Routes begun under this config and not ended. */
  count = 0;
  #idle: (() => void)[] = [];

  /** One more route read this config (see {@link routeBegins}). */
  begin(): void {
    this.count++;
  }

  /** That route's commit settled (committed or failed). */
  end(): void {
    if (this.count > 0) this.count--;
    if (this.count === 0 && this.#idle.length > 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  /** Resolves once no route under this config is in progress (at once when none is). */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

/** The counters of the configs a holder runs or ran (a config no holder runs counts in `none`). */
const inProgress = new WeakMap<Config, RoutesInProgress>();
const none = new RoutesInProgress();

/**
 * Counts a route that has just read `config` (read it, then call this, with no `await` between)
 * and returns the counter whose {@link RoutesInProgress.end} the route calls once its commit
 * settled, whatever its outcome. No allocation: one counter per config.
 * @example
 * const config = this.#options.config;
 * const routing = routeBegins(config);
 * try {
 *   await store.accept({ ...request, deliveries: routesOf(config, message) });
 * } finally {
 *   routing.end();
 * }
 */
export function routeBegins(config: Config): RoutesInProgress {
  const routes = inProgress.get(config) ?? none;
  routes.begin();
  return routes;
}

/** The routes in progress under `config` (a config no holder ran: an always idle counter). */
export function routesUnder(config: Config): RoutesInProgress {
  return inProgress.get(config) ?? new RoutesInProgress();
}

/** Registers `config`'s counter (kept when another holder runs the same object: a test's). */
function counted(config: Config): Config {
  if (!inProgress.has(config)) inProgress.set(config, new RoutesInProgress());
  return config;
}

/** See the module doc. */
export class ConfigHolder {
  #current: Config;
  #version: ConfigVersion;

  /** Holds `config`, loaded at `version`. */
  constructor(config: Config, version: ConfigVersion) {
    this.#current = counted(config);
    this.#version = version;
  }

  /** The config the next message is routed under. */
  get current(): Config {
    return this.#current;
  }

  /** The running version. */
  get version(): ConfigVersion {
    return this.#version;
  }

  /** `hash@generation`: what logs record as `configVersion`. */
  get label(): string {
    return `${this.#version.hash}@${this.#version.generation}`;
  }

  /** Replaces the config at once (one assignment: no reader sees half of each). */
  swap(config: Config, hash: string, loadedAt: number): ConfigVersion {
    this.#current = counted(config);
    this.#version = { hash, loadedAt, generation: this.#version.generation + 1 };
    return this.#version;
  }
}

/** The version hash of a config file's text. */
export async function configHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].slice(0, 6).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}
