/**
 * Console sign-in behind a reverse proxy (`http.trustedProxies`): the failures are counted per
 * client that the proxy names in `X-Forwarded-For`, so one client's failures do not lock out
 * another behind the same proxy; from a peer that is not a trusted proxy the header is ignored and
 * the failures are counted by the peer, whatever it claims. The `/admin` bearer failures too.
 * Over real HTTP on the composed engine (the fixture's viewer `vera`, `loginAttemptsPerIp` 10 by
 * default).
 * @module
 */

import assert from "node:assert/strict";
import type { Config } from "../../../../actors/config/mod.ts";
import { startEngine } from "../../../helpers/engine.ts";
import { consoleConfig, TOKEN, VIEWER_PASSWORD } from "./fixture.ts";

const ATTEMPTS = 10;

/** One sign-in attempt through the form, with `forwardedFor` on both requests: the status. */
async function attempt(
  base: string,
  fields: Record<string, string>,
  forwardedFor: string,
): Promise<number> {
  const xff = { "x-forwarded-for": forwardedFor };
  const form = await fetch(`${base}/console/login`, { headers: xff });
  const loginCookie = form.headers.get("set-cookie")!.split(";")[0]!;
  const token = /name="_login" value="([^"]+)"/.exec(await form.text())![1]!;
  const r = await fetch(`${base}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: {
      ...xff,
      cookie: loginCookie,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ _login: token, ...fields }),
  });
  await r.body?.cancel();
  return r.status;
}

/** The composed engine with `http.trustedProxies` set to `trusted`. */
async function withProxiedConsole(
  trusted: string[],
  fn: (base: string, lines: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "console-proxy-" });
  try {
    const config: Config = await consoleConfig(`${dir}/engine.kv`);
    const e = await startEngine(
      { ...config, http: { ...config.http, trustedProxies: trusted } },
      { http: true },
    );
    try {
      await fn(e.base, e.log.lines);
    } finally {
      await e.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("console behind a trusted proxy: two forwarded clients have separate sign-in failure budgets", async () => {
  await withProxiedConsole(["127.0.0.1"], async (base, lines) => {
    const mallory = "203.0.113.66";
    const alice = "198.51.100.7";
    for (let i = 0; i < ATTEMPTS; i++) {
      assert.equal(await attempt(base, { name: "vera", password: `guess-${i}` }, mallory), 401);
    }
    assert.equal(await attempt(base, { name: "vera", password: VIEWER_PASSWORD }, mallory), 429);
    // Another client behind the same proxy signs in as vera.
    assert.equal(await attempt(base, { name: "vera", password: VIEWER_PASSWORD }, alice), 303);
    // A client cannot pick its own address: what it sends is left of what the proxy appends.
    assert.equal(
      await attempt(base, { name: "vera", password: VIEWER_PASSWORD }, `${alice}, ${mallory}`),
      429,
    );
    const failed = lines.filter((l) => l.includes("console.login-failed"));
    assert.ok(failed.length > 0);
    assert.ok(failed.every((l) => l.includes(`${mallory} via 127.0.0.1:`)), failed.join("\n"));
  });
});

Deno.test("console: forged X-Forwarded-For from a peer that is not a trusted proxy gets no fresh budget; from a trusted one each client has its own", async () => {
  const forgedFailures = async (base: string) => {
    for (let i = 0; i < ATTEMPTS; i++) {
      const forged = `203.0.113.${i + 1}`;
      assert.equal(await attempt(base, { name: "vera", password: `guess-${i}` }, forged), 401);
    }
    return await attempt(base, { name: "vera", password: VIEWER_PASSWORD }, "198.51.100.7");
  };
  await withProxiedConsole(["10.0.0.0/8"], async (base, lines) => {
    assert.equal(await forgedFailures(base), 429);
    assert.deepEqual(lines.filter((l) => l.includes(" via ")), []);
  });
  // The same requests from a trusted proxy: ten clients failing once each lock out nobody.
  await withProxiedConsole(["127.0.0.1"], async (base) => {
    assert.equal(await forgedFailures(base), 303);
  });
});

Deno.test("admin behind a trusted proxy: wrong bearer tokens are counted per forwarded client", async () => {
  await withProxiedConsole(["127.0.0.1"], async (base, lines) => {
    const call = async (token: string, forwardedFor: string) => {
      const r = await fetch(`${base}/admin/actors`, {
        headers: { authorization: `Bearer ${token}`, "x-forwarded-for": forwardedFor },
      });
      await r.body?.cancel();
      return r.status;
    };
    const mallory = "2001:db8::66";
    for (let i = 0; i < 20; i++) {
      assert.equal(await call(`wrong-guess-${i}`, mallory), 401, `guess ${i}`);
    }
    assert.equal(await call(TOKEN, mallory), 429);
    assert.equal(await call(TOKEN, "198.51.100.7"), 200);
    const denied = lines.filter((l) => l.includes("admin.denied"));
    assert.ok(denied.length > 0);
    assert.ok(denied.every((l) => l.includes(`${mallory} via 127.0.0.1:`)), denied.join("\n"));
  });
});
