/**
 * The admin token: configured, or generated once into the KV folder (never printed).
 * @module
 */

import { type Config, Secret } from "../actors/config/mod.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { kvPathKind } from "../actors/store/kv.ts";

/**
 * Where a generated admin token is kept for `kv.path`: beside a local KV file, else (memory, KV
 * Connect) in `./data`.
 *
 * @example
 * ```ts
 * adminTokenFile("data/engine.kv"); // { dir: "data", path: "data/admin.token" }
 * adminTokenFile("HTTPS://kv.example.org"); // { dir: "./data", path: "./data/admin.token" }
 * ```
 */
export function adminTokenFile(kvPath: string): { dir: string; path: string } {
  const dir = kvPathKind(kvPath) !== "file"
    ? "./data"
    : kvPath.slice(0, Math.max(kvPath.lastIndexOf("/"), 0)) || ".";
  return { dir, path: `${dir}/admin.token` };
}

/** The configured admin token, else the one in `<kv folder>/admin.token`, created on first use. */
export async function adminToken(config: Config, log: Logger): Promise<Secret> {
  if (config.admin.token) return config.admin.token;
  const { dir, path } = adminTokenFile(config.kv.path);
  try {
    const existing = (await Deno.readTextFile(path)).trim();
    if (existing) {
      log.info("admin.token", { from: path });
      return new Secret(existing, `file:${path}`);
    }
  } catch { /* not there yet */ }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  log.info("admin.token-generated", {
    file: path,
    hint: "send it as Authorization: Bearer <token>",
  });
  return new Secret(token, `file:${path}`);
}
