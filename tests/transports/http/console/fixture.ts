/**
 * An engine composed with HTTP for console tests: one MLLP integration, an MLLP destination that
 * refuses connections (so its head has attempts), an HTTPS destination `hook` that refuses too,
 * a connection grouping them, and a viewer user.
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

/**
 * The config: `feed` (MLLP, port 0) → `lab` (MLLP to a closed port), connection `acme`; `more`
 * adds (or replaces) top-level sections, such as `alerts`.
 */
export async function consoleConfig(
  kvPath: string,
  more: Record<string, unknown> = {},
): Promise<Config> {
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
    }, {
      // Subscribed to nothing: only verified (it refuses, so verification fails).
      id: "hook",
      environment: "dev",
      https: {
        url: "http://127.0.0.1:1/hook",
        verificationToken: { env: "CONSOLE_TEST_TOKEN" },
        timeoutSeconds: 1,
      },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["lab"] }],
    connections: [{ id: "acme", name: "Acme Lab", integrations: [], destinations: ["lab"] }],
    ...more,
  }, {
    env: (name) => name === "CONSOLE_TEST_TOKEN" ? TOKEN : undefined,
    readFile: () => new Error("none"),
  });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.config;
}

/**
 * Starts the engine with HTTP on a KV in the temp folder `dir`, which the caller removes after
 * closing the engine; `clock` for session expiry.
 */
export async function startConsoleEngine(
  options: { clock?: Clock } = {},
): Promise<TestEngine & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "console-engine-" });
  try {
    const e = await startEngine(await consoleConfig(`${dir}/engine.kv`), {
      http: true,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    return Object.assign(e, { dir });
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

/** Signs in through the form; returns the session cookie and its CSRF token. */
export async function signIn(
  base: string,
  fields: Record<string, string>,
): Promise<{ cookie: string; csrf: string }> {
  const form = await fetch(`${base}/console/login`);
  const loginCookie = form.headers.get("set-cookie")!.split(";")[0]!;
  const token = /name="_login" value="([^"]+)"/.exec(await form.text())![1]!;
  const r = await fetch(`${base}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _login: token, ...fields }),
  });
  assert.equal(r.status, 303);
  await r.body?.cancel();
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  const page = await fetch(`${base}/console/actors`, { headers: { cookie } });
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(await page.text())![1]!;
  return { cookie, csrf };
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
