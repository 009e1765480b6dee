/**
 * A real engine started from a config file, as `serve --config FILE` starts it: the file is what
 * `POST /admin/config/reload` reads again and what `GET /admin/config` names.
 * @module
 */

import { configFrom, startEngine, type TestEngine } from "./engine.ts";

/** The smallest config: node `test`, KV and HTTP (127.0.0.1, port 0) only, environment `dev`. */
export function emptyConfigJson(dir: string): Record<string, unknown> {
  return {
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    integrations: [],
    destinations: [],
    subscriptions: [],
  };
}

/** An engine from {@link startConfigFileEngine}. */
export interface ConfigFileEngine {
  readonly e: TestEngine;
  /** The config file: `<dir>/engine.json`. */
  readonly file: string;
  /** What the file holds (JSON of {@link emptyConfigJson}). */
  readonly text: string;
  /** The admin token the engine wrote to `<dir>/admin.token`. */
  readonly token: string;
  /** `Date.now()` after the file was written, just before the engine was started. */
  readonly startedAt: number;
}

/**
 * Writes {@link emptyConfigJson} to `<dir>/engine.json` and starts a real engine with HTTP from
 * it. The caller closes `e` (before `dir` goes).
 */
export async function startConfigFileEngine(dir: string): Promise<ConfigFileEngine> {
  const file = `${dir}/engine.json`;
  const json = emptyConfigJson(dir);
  const text = JSON.stringify(json);
  await Deno.writeTextFile(file, text);
  const startedAt = Date.now();
  const e = await startEngine(configFrom(json), { http: true, configFile: file });
  try {
    const token = (await Deno.readTextFile(`${dir}/admin.token`)).trim();
    return { e, file, text, token, startedAt };
  } catch (error) {
    await e.close();
    throw error;
  }
}
