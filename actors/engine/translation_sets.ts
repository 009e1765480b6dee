/**
 * The translation sets in use: the config's (version 0), overridden or extended by the versions
 * imported into KV (`POST /admin/translation-sets/:name`). An imported version replaces the
 * config's table of the same name; its `onMissing` and `default`, when the import gave them, win
 * over the config's. A name only imported is a set of its own (a config list still names only
 * declared sets: declare it with no entries, `"labCodes": {}`, and import its table).
 *
 * The engine's shaping reads {@link translationSetsFor} for its config; this process sees an
 * import at once, other processes sharing the KV at their next {@link ImportedSets.refresh}.
 * @module
 */

import {
  isSetName,
  MAX_SET_ENTRIES,
  ON_MISSING,
  type OnMissing,
  parseTranslationCsv,
  type TranslationSet,
  type TranslationSets,
} from "../../codecs/modifiers/mod.ts";
import type { Config } from "../config/mod.ts";
import { shapingOf } from "../config/shaping.ts";
import type { Logger } from "../runtime/log.ts";
import type { TranslationSetStore, TranslationSetVersion } from "../store/translation_sets.ts";

/** What an import asked for. */
export interface ImportRequest {
  /** The set's name. */
  readonly name: string;
  /** The CSV text (`code,replacement`, optional `from,to` header). */
  readonly csv: string;
  readonly onMissing?: string;
  readonly default?: string;
  /** Who imports (logged and stored). */
  readonly by?: string;
}

/** The outcome of an import: the new version, or why it was refused (the caller's mistake). */
export type ImportResult =
  | { readonly ok: true; readonly version: TranslationSetVersion }
  | { readonly ok: false; readonly error: string; readonly problems?: readonly string[] };

/** A set as the admin endpoint lists it. */
export interface SetSummary {
  name: string;
  /** The version in use: 0 for the config's entries. */
  version: number;
  entries: number;
  onMissing: OnMissing;
  default?: string;
  /** `config` or `import`. */
  from: "config" | "import";
  importedAt?: number;
  by?: string;
}

const attached = new WeakMap<Config, ImportedSets>();
const pinned = new WeakMap<Config, TranslationSets>();

/** The sets in use for `config`: the imported ones when attached, else the config's own. */
export function translationSetsFor(config: Config): TranslationSets {
  return pinned.get(config) ?? attached.get(config)?.inUse() ?? shapingOf(config).sets;
}

/**
 * Makes `sets` the sets `config`'s shaping uses: the planning thread's copy of the running config
 * gets the sets in use on the engine's thread, imports included (`plan_thread_serve.ts`).
 */
export function pinTranslationSets(config: Config, sets: TranslationSets): void {
  pinned.set(config, sets);
}

/**
 * A config reload: the imported sets attached to `running` apply to `next` too (its own tables
 * are what imports override from now on).
 */
export function carryImportedSets(running: Config, next: Config): void {
  const sets = attached.get(running);
  if (!sets) return;
  sets.follow(next);
}

/** See the module doc. */
export class ImportedSets {
  readonly #store: TranslationSetStore;
  #config: Config;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Imported versions in use, by name. */
  readonly #imported = new Map<string, TranslationSet>();
  #merged: TranslationSets | undefined;

  private constructor(
    store: TranslationSetStore,
    config: Config,
    log: Logger,
    now: () => number,
  ) {
    this.#store = store;
    this.#config = config;
    this.#log = log;
    this.#now = now;
  }

  /**
   * Loads the latest imported versions and makes them the sets `config`'s shaping uses (the
   * config object the engine runs).
   */
  static async attach(options: {
    store: TranslationSetStore;
    config: Config;
    log: Logger;
    now?: () => number;
  }): Promise<ImportedSets> {
    const sets = new ImportedSets(
      options.store,
      options.config,
      options.log,
      options.now ?? Date.now,
    );
    await sets.refresh();
    attached.set(options.config, sets);
    return sets;
  }

  /** Makes these the imported sets of `config` (see {@link carryImportedSets}). */
  follow(config: Config): void {
    this.#config = config;
    this.#merged = undefined;
    attached.set(config, this);
  }

  /** The config's sets with the imported versions in place. */
  inUse(): TranslationSets {
    if (this.#merged) return this.#merged;
    const merged = new Map(shapingOf(this.#config).sets);
    for (const [name, set] of this.#imported) merged.set(name, set);
    this.#merged = merged;
    return merged;
  }

  /** Reads the latest version of each imported set; loads the tables that changed. */
  async refresh(): Promise<void> {
    for (const head of await this.#store.heads()) {
      if (this.#imported.get(head.name)?.version === head.version) continue;
      const stored = await this.#store.get(head.name, head.version);
      if (stored) this.#use(stored, stored.table);
    }
  }

  /** Validates and stores a CSV import as the set's next version, and uses it from now on. */
  async import(request: ImportRequest): Promise<ImportResult> {
    if (!isSetName(request.name)) {
      return { ok: false, error: "name: 1–64 letters, digits, _ . -" };
    }
    const onMissing = request.onMissing;
    if (onMissing !== undefined && !ON_MISSING.includes(onMissing as OnMissing)) {
      return { ok: false, error: `onMissing: unknown (known: ${ON_MISSING.join(", ")})` };
    }
    const configured = shapingOf(this.#config).sets.get(request.name);
    const effective = onMissing ?? this.#imported.get(request.name)?.onMissing ??
      configured?.onMissing;
    const fallback = request.default ?? configured?.default;
    if (effective === "default" && fallback === undefined) {
      return { ok: false, error: 'default: required when onMissing is "default"' };
    }
    const parsed = parseTranslationCsv(request.csv);
    if (!parsed.ok) {
      return { ok: false, error: "the CSV cannot be read", problems: parsed.problems };
    }
    if (parsed.entries.size === 0) return { ok: false, error: "the CSV holds no entries" };
    if (parsed.entries.size > MAX_SET_ENTRIES) {
      return { ok: false, error: `more than ${MAX_SET_ENTRIES} entries` };
    }
    const table = Object.fromEntries(parsed.entries);
    const version = await this.#store.put(request.name, table, {
      by: request.by ?? "admin",
      at: this.#now(),
      ...(onMissing !== undefined ? { onMissing: onMissing as OnMissing } : {}),
      ...(request.default !== undefined ? { default: request.default } : {}),
    });
    this.#use(version, table);
    this.#log.info("translation-set.imported", {
      name: version.name,
      version: version.version,
      entries: version.entries,
      by: version.by,
    });
    return { ok: true, version };
  }

  /** Every set in use, config and imported, by name. */
  list(): SetSummary[] {
    return [...this.inUse().values()].map((s): SetSummary => {
      const imported = this.#imported.has(s.name);
      return {
        name: s.name,
        version: s.version,
        entries: s.entries.size,
        onMissing: s.onMissing,
        ...(s.default !== undefined ? { default: s.default } : {}),
        from: imported ? "import" : "config",
      };
    }).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The stored versions of an imported set, oldest first. */
  versions(name: string): Promise<TranslationSetVersion[]> {
    return this.#store.versions(name);
  }

  /** One version's table: 0 is the config's, otherwise an import; undefined when unknown. */
  async table(
    name: string,
    version?: number,
  ): Promise<{ version: number; entries: Record<string, string> } | undefined> {
    if (version === 0 || (version === undefined && !this.#imported.has(name))) {
      const s = shapingOf(this.#config).sets.get(name);
      return s && { version: 0, entries: Object.fromEntries(s.entries) };
    }
    const stored = await this.#store.get(name, version);
    return stored && { version: stored.version, entries: stored.table };
  }

  #use(v: TranslationSetVersion, table: Record<string, string>): void {
    const configured = shapingOf(this.#config).sets.get(v.name);
    const onMissing = v.onMissing ?? configured?.onMissing ?? "pass";
    const fallback = v.default ?? configured?.default;
    this.#imported.set(v.name, {
      name: v.name,
      version: v.version,
      entries: new Map(Object.entries(table)),
      onMissing,
      ...(fallback !== undefined ? { default: fallback } : {}),
    });
    this.#merged = undefined;
  }
}
