/**
 * The running config, swapped as a whole by a reload (app/reload.ts): the engine's routing, its
 * inboxes and its actor factory read `current` per message or activation, never a copy taken at
 * start, so a reload changes what the next message sees and nothing that is in flight.
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

/** See the module doc. */
export class ConfigHolder {
  #current: Config;
  #version: ConfigVersion;

  /** Holds `config`, loaded at `version`. */
  constructor(config: Config, version: ConfigVersion) {
    this.#current = config;
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
    this.#current = config;
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
