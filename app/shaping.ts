/**
 * Wiring of data shaping's runtime parts: the translation sets imported into KV (loaded at start,
 * used by the engine's shaping, read again every 30 s for imports made by other processes sharing
 * the KV) and the admin routes `/admin/translation-sets…` and `/admin/modifiers/try`.
 * @module
 */

import { Hono } from "hono";
import type { Engine } from "../actors/engine/engine.ts";
import { ImportedSets } from "../actors/engine/translation_sets.ts";
import { tryShaping } from "../actors/engine/try_shaping.ts";
import type { Secret } from "../actors/config/secret.ts";
import { type Clock, systemClock } from "../actors/runtime/clock.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { requireBearer } from "../transports/http/auth.ts";
import { createShapingAdminApp } from "../transports/http/shaping.ts";

/** How often imports made by other processes are looked for. */
export const REFRESH_MS = 30_000;

/** Data shaping, running. */
export interface ShapingRuntime {
  /** The translation sets in use. */
  readonly sets: ImportedSets;
  /** Adds the admin routes (behind `token`) to the engine's HTTP app. */
  mount(app: Hono, token: Secret): void;
  close(): Promise<void>;
}

/**
 * Loads the imported translation sets for `engine` and starts their refresh. The refresh waits
 * on the real clock (a test's manual clock is for the engine's actors); `clock` stamps imports.
 */
export async function startShaping(
  engine: Engine,
  log: Logger,
  clock: Clock = systemClock,
): Promise<ShapingRuntime> {
  const sets = await ImportedSets.attach({
    store: engine.store.translationSets,
    config: engine.config,
    log,
    now: () => clock.now(),
  });
  const stop = new AbortController();
  const refreshing = (async () => {
    while (!stop.signal.aborted) {
      await systemClock.sleep(REFRESH_MS, stop.signal);
      if (stop.signal.aborted) break;
      try {
        await sets.refresh();
      } catch (error) {
        log.warn("translation-set.refresh-failed", { error });
      }
    }
  })();
  return {
    sets,
    mount(app, token) {
      const admin = new Hono();
      const auth = requireBearer({ token, log });
      for (const path of ["/admin/translation-sets", "/admin/translation-sets/*"]) {
        admin.use(path, auth);
      }
      admin.use("/admin/modifiers/*", auth);
      admin.route(
        "/admin",
        createShapingAdminApp({
          importSet: (r) => sets.import(r),
          listSets: () => sets.list(),
          table: (name, version) => sets.table(name, version),
          versions: (name) => sets.versions(name),
          tryShaping: (r) => tryShaping(engine.config, engine.store, r),
        }),
      );
      app.route("/", admin);
    },
    async close() {
      stop.abort();
      await refreshing;
    },
  };
}
