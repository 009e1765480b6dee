/**
 * The composed engine with users (an operator, an admin, a viewer) and alert rules, its app served over
 * real HTTP on the dual-stack wildcard `::`, so that a test reaches it from two client addresses:
 * `127.0.0.1` (seen as `::ffff:127.0.0.1`) and `::1`.
 * @module
 */

import assert from "node:assert/strict";
import { configFrom, startEngine, type TestEngine } from "../../helpers/engine.ts";

/** The admin token. */
export const ADMIN = "admin-token-0123456789abcdef";
/** The operator `otto`'s token. */
export const OTTO = "otto-operator-token-0123456789";
/** The admin user `ada`'s token. */
export const ADA = "ada-admin-user-token-0123456789";
/** The viewer `vic`'s token. */
export const VIC = "vic-viewer-user-token-0123456789";
/** The webhook channel's secret: never in a log line or an answer. */
export const HOOK_SECRET = "hook-secret-never-logged-5e1f";

/** A request's answer, its JSON read. */
export interface Answer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any -- the tests read the answers' JSON freely
  json: any;
}

/** The engine, its server, and requests from either address. */
export interface UsersEngine {
  engine: TestEngine;
  /** Every log line. */
  lines: string[];
  /** A request from 127.0.0.1 (`from: "v4"`, the default) or ::1, with `Bearer <token>`. */
  call(
    path: string,
    init?: { token?: string | null; method?: string; body?: unknown; from?: "v4" | "v6" },
  ): Promise<Answer>;
}

/** Runs `fn` with the engine, then closes the server and the engine and removes the KV. */
export async function withUsersEngine(fn: (e: UsersEngine) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "admin-users-" });
  const env: Record<string, string> = { ADMIN, OTTO, ADA, VIC, HOOK_SECRET };
  const engine = await startEngine(configFrom({
    kv: { path: `${dir}/engine.kv` },
    admin: {
      token: { env: "ADMIN" },
      users: [
        { name: "otto", role: "operator", token: { env: "OTTO" } },
        { name: "ada", role: "admin", token: { env: "ADA" } },
        { name: "vic", role: "viewer", token: { env: "VIC" } },
      ],
    },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: 1 } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
    alerts: {
      channels: [{
        id: "ops",
        webhook: { url: "http://127.0.0.1:1/alert", secret: { env: "HOOK_SECRET" } },
      }],
      rules: [{ id: "failures", kind: "failed-logs", threshold: 10, windowSeconds: 600 }],
    },
  }, (name) => env[name]));
  const server = Deno.serve(
    { hostname: "::", port: 0, onListen: () => {} },
    (request, info) => engine.app.fetch(request, info),
  );
  const call: UsersEngine["call"] = async (path, init = {}) => {
    const host = init.from === "v6" ? "[::1]" : "127.0.0.1";
    const headers = new Headers();
    const token = init.token === undefined ? ADMIN : init.token;
    if (token !== null) headers.set("authorization", `Bearer ${token}`);
    if (init.body !== undefined) headers.set("content-type", "application/json");
    const res = await fetch(`http://${host}:${server.addr.port}${path}`, {
      method: init.method ?? "GET",
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    const json = res.headers.get("content-type")?.startsWith("application/json")
      ? JSON.parse(text)
      : undefined;
    return { status: res.status, headers: res.headers, json };
  };
  try {
    await fn({ engine, lines: engine.log.lines, call });
  } finally {
    await server.shutdown();
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts that no line holds any of the fixture's secrets. */
export function assertNoSecrets(lines: string[]): void {
  for (const line of lines) {
    for (const secret of [ADMIN, OTTO, ADA, HOOK_SECRET]) {
      assert.ok(!line.includes(secret), `a secret in the log: ${line}`);
    }
  }
}
