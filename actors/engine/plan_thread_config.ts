/**
 * What the planning thread is sent of the running config: the config itself once per config
 * object (a reload makes a new one), and the translation sets in use whenever imports changed
 * them (only those not the config's own, and only when a list of the config may translate).
 * @module
 */

import type { Config } from "../config/mod.ts";
import { shapingOf } from "../config/shaping.ts";
import type { PackedSet, ToThread } from "./plan_thread_serve.ts";
import { translationSetsFor } from "./translation_sets.ts";

/** What a thread was sent last: the config's number and the sets object in use then. */
export interface SentConfig {
  gen: number;
  sets: unknown;
}

const configGens = new WeakMap<Config, number>();
let lastGen = 0;

function genOf(config: Config): number {
  let gen = configGens.get(config);
  if (gen === undefined) configGens.set(config, gen = ++lastGen);
  return gen;
}

/**
 * The `config` message a thread that was sent `sent` needs before a job under `config` (none
 * when it has what it needs), and what it will then have been sent.
 */
export function configUpdate(
  sent: SentConfig | undefined,
  config: Config,
): { message?: ToThread; sent: SentConfig } {
  const gen = genOf(config);
  const sets = usesSets(config) ? translationSetsFor(config) : undefined;
  if (sent?.gen === gen && sent.sets === sets) return { sent };
  const packed = sets ? packImported(config, sets) : undefined;
  return {
    message: {
      op: "config",
      gen,
      ...(sent?.gen === gen ? {} : { config }),
      ...(packed ? { sets: packed } : {}),
    },
    sent: { gen, sets },
  };
}

/** Whether a list of the config may translate (modifiers, HL7 edits): the sets are then sent. */
function usesSets(config: Config): boolean {
  return config.subscriptions.some((s) => s.modifiers || s.hl7Edits) ||
    config.destinations.some((d) => d.modifiers || d.hl7Edits);
}

/** The sets in use that are not the config's own (imports), as UTF-8 JSON in shared memory. */
function packImported(
  config: Config,
  sets: ReturnType<typeof translationSetsFor>,
): SharedArrayBuffer | undefined {
  const own = shapingOf(config).sets;
  const imported: PackedSet[] = [];
  for (const s of sets.values()) {
    if (own.get(s.name) === s) continue;
    imported.push({
      name: s.name,
      version: s.version,
      onMissing: s.onMissing,
      ...(s.default !== undefined ? { default: s.default } : {}),
      entries: [...s.entries],
    });
  }
  if (imported.length === 0) return undefined;
  const bytes = new TextEncoder().encode(JSON.stringify(imported));
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  return shared;
}
