/**
 * What the planning-thread tests share: the engine of one MLLP integration routed to one HTTP
 * destination, and `BIG_INLINE`, which gives them the engine they guard against. How long work
 * held this thread is watched by `tests/helpers/thread_hold.ts`.
 * @module
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";

/**
 * Whether `BIG_INLINE` is set: the thread-hold tests then run the code they guard against, every
 * message planned on the engine's own thread (`planThreads: { offloadBytes: Infinity }`), as
 * before the planning thread, and must fail.
 */
export const BIG_INLINE: boolean = Boolean(Deno.env.get("BIG_INLINE"));

/** The engine options {@link BIG_INLINE} asks for: none unless it is set. */
export function inlineWhenAsked(): { planThreads?: { offloadBytes: number } } {
  return BIG_INLINE ? { planThreads: { offloadBytes: Infinity } } : {};
}

/** MLLP integration `lab` (port 0) → HTTPS destination `app` at `127.0.0.1:hookPort/hook`. */
export function configFor(dir: string, hookPort: number): Config {
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{ id: "lab", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } }],
    destinations: [{
      id: "app",
      environment: "dev",
      https: { url: `http://127.0.0.1:${hookPort}/hook`, verificationToken: { env: "T" } },
    }],
    subscriptions: [{ from: { integration: "lab" }, to: ["app"] }],
  }, { env: () => "token", readFile: () => new Error("-") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}
