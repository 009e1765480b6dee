/**
 * Console auth without a browser: every state-changing route refuses a viewer (403) and a request
 * without the session's CSRF token (403); sessions expire when idle and absolutely (ManualClock);
 * the JSON admin routes take a user's role.
 * @module
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../../actors/runtime/clock.ts";
import { STATE_CHANGING_ROUTES } from "../../../../transports/http/console/mod.ts";
import { signIn, startConsoleEngine, TOKEN, VIEWER_PASSWORD } from "./fixture.ts";

const post = (base: string, path: string, cookie: string, body: Record<string, string>) =>
  fetch(`${base}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(body),
  });

const concrete = (path: string) =>
  path.replace(":id", encodeURIComponent("mllp-out:127.0.0.1:1")).replace(":name", "x");

Deno.test("console: a viewer gets 403 on every state-changing route; no CSRF token gets 403", async () => {
  const e = await startConsoleEngine();
  try {
    const viewer = await signIn(e.base, { name: "vera", password: VIEWER_PASSWORD });
    const admin = await signIn(e.base, { token: TOKEN });
    for (const { path } of STATE_CHANGING_ROUTES) {
      const asViewer = await post(e.base, concrete(path), viewer.cookie, {
        _csrf: viewer.csrf,
        reason: "r",
      });
      assert.equal(asViewer.status, 403, `viewer on ${path}`);
      await asViewer.body?.cancel();
      const noCsrf = await post(e.base, concrete(path), admin.cookie, { reason: "r" });
      assert.equal(noCsrf.status, 403, `no CSRF on ${path}`);
      await noCsrf.body?.cancel();
      const wrongCsrf = await post(e.base, concrete(path), admin.cookie, { _csrf: viewer.csrf });
      assert.equal(wrongCsrf.status, 403, `another session's CSRF on ${path}`);
      await wrongCsrf.body?.cancel();
    }
    // The list above is every POST route the console has.
    const ok = await post(e.base, concrete("/console/actors/:id/pause"), admin.cookie, {
      _csrf: admin.csrf,
    });
    assert.equal(ok.status, 303);
    await ok.body?.cancel();
    // Wrong password: 401, and the JSON admin API takes roles by token.
    const bad = await fetch(`${e.base}/admin/actors/x/pause`, {
      method: "POST",
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(bad.status, 401);
    await bad.body?.cancel();
    const audit = await fetch(`${e.base}/admin/audit`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const entries = (await audit.json()).entries as { action: string; by: string }[];
    assert.ok(entries.some((x) => x.action === "pause" && x.by === "admin"));
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("console: a session ends after its idle time and after its absolute time", async () => {
  const clock = new ManualClock(Date.now());
  const e = await startConsoleEngine({ clock });
  try {
    const s = await signIn(e.base, { token: TOKEN });
    const page = () =>
      fetch(`${e.base}/console/audit`, { headers: { cookie: s.cookie }, redirect: "manual" });
    clock.advance(29 * 60_000);
    assert.equal((await (await page()).text(), (await page()).status), 200);
    clock.advance(30 * 60_000 + 1);
    const expired = await page();
    assert.equal(expired.status, 303);
    assert.equal(expired.headers.get("location"), "/console/login");
    await expired.body?.cancel();

    const t = await signIn(e.base, { token: TOKEN });
    for (let i = 0; i < 25; i++) {
      clock.advance(29 * 60_000); // never idle long enough…
      const r = await fetch(`${e.base}/console/audit`, {
        headers: { cookie: t.cookie },
        redirect: "manual",
      });
      await r.body?.cancel();
      if (r.status === 303) {
        assert.ok(i >= 24, `ended after ${i} steps`); // …but 12 h after sign-in it ends
        return;
      }
    }
    assert.fail("the session outlived its absolute expiry");
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});
