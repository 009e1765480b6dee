/**
 * An engine composed with HTTP for console tests: one MLLP integration, an MLLP destination that
 * refuses connections (so its head has attempts), a connection grouping them, and a viewer user.
 * @module
 */

import { Users } from "../../../../transports/http/console/mod.ts";
import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../../actors/config/mod.ts";
import { startEngine, type TestEngine } from "../../../helpers/engine.ts";
import { RawMllpSender, summarizeAck } from "../../../helpers/raw_sender.ts";
import type { Clock } from "../../../../actors/runtime/clock.ts";

/** The admin token of the fixture. */
export const TOKEN = "console-admin-token-5f1c2e9a7b3d4c6e8f0a";
/** A viewer's password (its argon2id hash is in the config). */
export const VIEWER_PASSWORD = "viewer-password-123";

/** The config: `feed` (MLLP, port 0) → `lab` (MLLP to a closed port), connection `acme`. */
export async function consoleConfig(kvPath: string): Promise<Config> {
  const result = parseConfig({
    node: { id: "test" },
    kv: { path: kvPath },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    admin: {
      token: { env: "CONSOLE_TEST_TOKEN" },
      users: [{
        name: "vera",
        role: "viewer",
        passwordHash: await Users.hashPassword(VIEWER_PASSWORD),
      }],
    },
    environments: [{ id: "dev", type: "development" }],
    listeners: [{ port: 0, hostname: "127.0.0.1", requireFinalCr: false }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "lab",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: 1, connectTimeoutSeconds: 1 },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["lab"] }],
    connections: [{ id: "acme", name: "Acme Lab", integrations: [], destinations: ["lab"] }],
  }, {
    env: (name) => name === "CONSOLE_TEST_TOKEN" ? TOKEN : undefined,
    readFile: () => new Error("none"),
  });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.config;
}

/** Starts the engine with HTTP on a temp KV; `clock` for session expiry. */
export async function startConsoleEngine(
  options: { clock?: Clock } = {},
): Promise<TestEngine & { dir: string }> {
  const dir = await Deno.makeTempDir();
  const e = await startEngine(await consoleConfig(`${dir}/engine.kv`), {
    http: true,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return Object.assign(e, { dir });
}

/** Sends one HL7 message over MLLP and asserts an AA. */
export async function sendHl7(port: number, message: string): Promise<void> {
  const sender = await RawMllpSender.connect(port);
  try {
    await sender.write(new TextEncoder().encode(`\x0b${message}\x1c\r`));
    const [ack] = await sender.frameCount(1);
    assert.equal(summarizeAck(ack!).code, "AA");
  } finally {
    await sender.close();
  }
}
