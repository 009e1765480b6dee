/**
 * The config's data shaping: `translationSets`, and `modifiers` (data-model JSON) and `hl7Edits`
 * (HL7 v2) on subscriptions and destinations. Validated at start with the path of every problem
 * (`$.subscriptions[2].modifiers[0].schema.if.operator: unknown …`), compiled once per config.
 * @module
 */

import {
  compileHl7Edits,
  compileModifiers,
  compileTranslationSets,
  type Hl7EditList,
  type ModifierList,
  type Problem,
  type TranslationSet,
} from "../../codecs/modifiers/mod.ts";
import type { Config } from "./schema.ts";
import type { ConfigProblem } from "./load.ts";

/** The compiled shaping of one config. */
export interface Shaping {
  /** Translation sets from config (version 0). */
  readonly sets: ReadonlyMap<string, TranslationSet>;
  /** Compiled lists by the raw list they came from (a subscription's or destination's). */
  readonly modifiers: WeakMap<readonly unknown[], ModifierList>;
  /** Compiled HL7 edit lists by their raw list. */
  readonly edits: WeakMap<readonly unknown[], Hl7EditList>;
  /** Problems found (empty for a config that passed the check). */
  readonly problems: readonly ConfigProblem[];
}

const cache = new WeakMap<Config, Shaping>();

/** The lists of a config, with their JSON paths. */
function lists(config: Config): { at: string; kind: "modifiers" | "hl7Edits"; raw: unknown }[] {
  const out: { at: string; kind: "modifiers" | "hl7Edits"; raw: unknown }[] = [];
  const add = (section: string, items: readonly Record<string, unknown>[]) =>
    items.forEach((item, i) => {
      for (const kind of ["modifiers", "hl7Edits"] as const) {
        if (item[kind] !== undefined) {
          out.push({ at: `$.${section}[${i}].${kind}`, kind, raw: item[kind] });
        }
      }
    });
  add("subscriptions", config.subscriptions as unknown as Record<string, unknown>[]);
  add("destinations", config.destinations as unknown as Record<string, unknown>[]);
  return out;
}

/** Compiles (once per config object) and validates the config's shaping. */
export function shapingOf(config: Config): Shaping {
  const hit = cache.get(config);
  if (hit) return hit;
  const problems: ConfigProblem[] = [];
  const report = (at: string, list: readonly Problem[]) => {
    for (const p of list) problems.push({ path: `${at}${p.path}`, message: p.message });
  };
  const compiledSets = compileTranslationSets(config.translationSets);
  if (!compiledSets.ok) report("$.translationSets", compiledSets.problems);
  const sets = compiledSets.ok ? compiledSets.sets : new Map<string, TranslationSet>();
  const declared = new Set(
    config.translationSets === undefined ? [] : Object.keys(config.translationSets),
  );
  const modifiers = new WeakMap<readonly unknown[], ModifierList>();
  const edits = new WeakMap<readonly unknown[], Hl7EditList>();
  for (const { at, kind, raw } of lists(config)) {
    if (kind === "modifiers") {
      const c = compileModifiers(raw, {
        translationSets: declared,
        inputs: new Set(["environment", "destination", "source"]),
      });
      if (c.ok) modifiers.set(raw as unknown[], c.list);
      else report(at, c.problems);
    } else {
      const c = compileHl7Edits(raw, { translationSets: declared });
      if (c.ok) edits.set(raw as unknown[], c.list);
      else report(at, c.problems);
    }
  }
  const shaping: Shaping = { sets, modifiers, edits, problems };
  cache.set(config, shaping);
  return shaping;
}
