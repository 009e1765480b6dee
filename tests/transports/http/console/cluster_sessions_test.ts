/**
 * Console sessions in a cluster: two engines on one KV file share the users kept in KV, not their
 * sessions. A session on node B of a user deleted (or deleted and created again, or whose role
 * changed) through node A follows what KV says: refused at once on a state-changing request, and
 * on page views within the re-read bound (`USER_RECHECK_MS`, advanced on B's clock here rather
 * than waited for). Real HTTP requests with the session cookie and the CSRF token, as a browser
 * sends them.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../../actors/runtime/clock.ts";
import { keyPart } from "../../../../actors/store/keys.ts";
import type { UserRecord } from "../../../../actors/ports.ts";
import { USER_RECHECK_MS } from "../../../../transports/http/console/sessions.ts";
import { startEngine, type TestEngine } from "../../../helpers/engine.ts";
import { tempDir } from "../../../helpers/temp.ts";
import { consoleConfig, signIn, TOKEN } from "./fixture.ts";

type Signed = { cookie: string; csrf: string };

/** The fixture's MLLP destination's actor, as a path segment. */
const PAUSE_ACTOR = encodeURIComponent("mllp-out:127.0.0.1:1");

/** Nodes `a` and `b` on one KV file in `dir`, each with its own clock. */
async function twoNodes(dir: string) {
  const config = await consoleConfig(`${dir}/engine.kv`);
  const clockA = new ManualClock(Date.now());
  const clockB = new ManualClock(Date.now());
  const engines: TestEngine[] = [];
  try {
    engines.push(
      await startEngine({ ...config, node: { ...config.node, id: "a" } }, {
        http: true,
        clock: clockA,
      }),
    );
    engines.push(
      await startEngine({ ...config, node: { ...config.node, id: "b" } }, {
        http: true,
        clock: clockB,
      }),
    );
  } catch (error) {
    for (const e of engines) await e.close();
    throw error;
  }
  const [a, b] = engines as [TestEngine, TestEngine];
  return { a, b, clockB, close: async () => void await Promise.all(engines.map((e) => e.close())) };
}

/** A console form POST with the session's cookie and CSRF field. */
async function post(
  base: string,
  s: Signed,
  path: string,
  fields: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`${base}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: s.csrf, ...fields }),
  });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** A page GET with the session's cookie. */
async function get(
  base: string,
  s: Signed,
  path: string,
): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`${base}${path}`, { headers: { cookie: s.cookie }, redirect: "manual" });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/**
 * An admin's POST on the users page. Never sent again: the other engine holding SQLite's write lock
 * (`database is locked`) must be waited out by the store, not seen as a 500.
 */
async function adminPost(
  base: string,
  admin: Signed,
  path: string,
  fields: Record<string, string> = {},
) {
  const r = await post(base, admin, path, fields);
  assert.notEqual(r.status, 500, r.text);
  return r;
}

/** Creates a KV user through the users page of `base`. */
async function createUser(base: string, admin: Signed, name: string, role: string) {
  const r = await adminPost(base, admin, "/console/users", {
    name,
    role,
    password: `${name}-password-123`,
  });
  assert.equal(r.status, 200, `create ${name}: ${r.text.slice(0, 200)}`);
}

/** Deletes a KV user through the users page of `base`. */
async function deleteUser(base: string, admin: Signed, name: string) {
  const r = await adminPost(base, admin, `/console/users/${name}/delete`);
  assert.equal(r.status, 200);
  assert.match(r.text, new RegExp(`Deleted ${name}\\.`));
}

/** Whether the users page (read by `admin` on `base`) lists `name`. */
async function listed(base: string, admin: Signed, name: string): Promise<boolean> {
  const r = await get(base, admin, "/console/users");
  assert.equal(r.status, 200);
  return r.text.includes(`data-user="${name}"`);
}

/** Asserts the answer ends the session and says why, and clears the cookie. */
function assertEnded(r: { status: number; text: string; headers: Headers }, why: RegExp) {
  assert.equal(r.status, 401, r.text.slice(0, 300));
  assert.match(r.text, why);
  assert.match(r.text, /href="\/console\/login"/);
  assert.match(r.headers.get("set-cookie") ?? "", /engine_console=;.*Max-Age=0/);
}

/** The fields of `e`'s log lines of `event` (`time LEVEL event key=value …`). */
function logged(e: TestEngine, event: string): Record<string, string>[] {
  return e.log.lines.filter((l) => l.split(/ +/)[2] === event).map((l) =>
    Object.fromEntries(
      [...l.matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)].map(([, k, v]) => [
        k!,
        v!.startsWith('"') ? JSON.parse(v!) : v!,
      ]),
    )
  );
}

Deno.test("cluster console: a session on B of a user deleted through A is refused at once on a POST and on pages within the bound", async () => {
  await using dir = await tempDir({ prefix: "console-cluster-delete-" });
  const { a, b, clockB, close } = await twoNodes(dir.path);
  try {
    const adminA = await signIn(a.base, { token: TOKEN });
    await createUser(a.base, adminA, "eve", "admin");
    await createUser(a.base, adminA, "frank", "admin");
    // gus signs in to the console with his API token (shown once, when created).
    const withToken = await adminPost(a.base, adminA, "/console/users", {
      name: "gus",
      role: "admin",
      password: "gus-password-1234",
      token: "1",
    });
    const gusToken = /<code id="new-token">([^<]+)<\/code>/.exec(withToken.text)?.[1];
    assert.ok(gusToken, withToken.text.slice(0, 300));
    const eve = await signIn(b.base, { name: "eve", password: "eve-password-123" });
    const eveOnA = await signIn(a.base, { name: "eve", password: "eve-password-123" });
    const frank = await signIn(b.base, { name: "frank", password: "frank-password-123" });
    const gus = await signIn(b.base, { token: gusToken });
    for (const s of [eve, frank, gus]) {
      assert.equal((await get(b.base, s, "/console/users")).status, 200);
    }

    await deleteUser(a.base, adminA, "eve");
    await deleteUser(a.base, adminA, "frank");
    await deleteUser(a.base, adminA, "gus");
    // On the node that deleted her, eve's session ended with the delete.
    assertEnded(await get(a.base, eveOnA, "/console/actors"), /the user eve was deleted/);
    assert.deepEqual(
      logged(a, "console.session-ended").map((l) => [l.user, l.reason, l.sessions]),
      [["eve", "deleted", "1"]],
    );
    assert.equal(
      (await post(b.base, gus, `/console/actors/${PAUSE_ACTOR}/pause`, { reason: "x" })).status,
      401,
    );

    // A state-changing request re-reads the user first: refused at once, nothing created.
    const refused = await post(b.base, frank, "/console/users", {
      name: "mallory",
      role: "admin",
      password: "mallory-password-1",
    });
    assertEnded(refused, /the user frank was deleted/);
    assert.equal(await listed(a.base, adminA, "mallory"), false);
    const after = await get(b.base, frank, "/console/users");
    assert.equal(after.status, 303);
    assert.equal(after.headers.get("location"), "/console/login");

    // A page view re-reads it within the bound.
    clockB.advance(USER_RECHECK_MS);
    assertEnded(await get(b.base, eve, "/console/users"), /the user eve was deleted/);
    assert.equal((await get(b.base, eve, "/console/connections")).status, 303);

    const ended = logged(b, "console.session-ended");
    assert.deepEqual(
      ended.map((l) => [l.user, l.reason]).sort(),
      [["eve", "deleted"], ["frank", "deleted"], ["gus", "deleted"]],
    );
    // Never a secret: no session id, CSRF token or API token in either log.
    const text = [...a.log.lines, ...b.log.lines].join("\n");
    assert.ok(!text.includes(gusToken));
    for (const s of [eve, eveOnA, frank, gus]) {
      assert.ok(!text.includes(s.cookie.split("=")[1]!));
      assert.ok(!text.includes(s.csrf));
    }
  } finally {
    await close();
  }
});

Deno.test("cluster console: a user deleted and created again with a lower role through A keeps no session of the old role on B", async () => {
  await using dir = await tempDir({ prefix: "console-cluster-recreate-" });
  const { a, b, clockB, close } = await twoNodes(dir.path);
  try {
    const adminA = await signIn(a.base, { token: TOKEN });
    await createUser(a.base, adminA, "eve", "admin");
    const first = await signIn(b.base, { name: "eve", password: "eve-password-123" });
    const second = await signIn(b.base, { name: "eve", password: "eve-password-123" });
    assert.equal((await get(b.base, first, "/console/users")).status, 200);

    // Deleted and created again, same name and password, now a viewer.
    await deleteUser(a.base, adminA, "eve");
    await createUser(a.base, adminA, "eve", "viewer");

    const refused = await post(b.base, first, "/console/users", {
      name: "mallory",
      role: "admin",
      password: "mallory-password-1",
    });
    assertEnded(refused, /the user eve was deleted and created again/);
    assert.equal(await listed(a.base, adminA, "mallory"), false);

    clockB.advance(USER_RECHECK_MS);
    assertEnded(await get(b.base, second, "/console/users"), /deleted and created again/);
    assert.deepEqual(
      logged(b, "console.session-ended").map((l) => [l.user, l.reason]),
      [["eve", "re-created"], ["eve", "re-created"]],
    );

    // Signing in again gives the new user, with its role.
    const again = await signIn(b.base, { name: "eve", password: "eve-password-123" });
    assert.equal((await get(b.base, again, "/console/users")).status, 403);
    assert.match((await get(b.base, again, "/console/connections")).text, /eve \(viewer\)/);
  } finally {
    await close();
  }
});

Deno.test("cluster console: a role changed in KV applies to an open session on the other node, at once on a POST and on pages within the bound", async () => {
  await using dir = await tempDir({ prefix: "console-cluster-role-" });
  const { a, b, clockB, close } = await twoNodes(dir.path);
  // The record changed in place through node A's KV handle, as a node (or a later version of
  // the users page) writing it would change it.
  const kv = a.engine.store.kv;
  const setRole = async (name: string, role: string) => {
    const key = ["console_user", keyPart(name)];
    const got = await kv.get<UserRecord>(key);
    assert.ok(got.value);
    assert.ok((await kv.atomic().check(got).set(key, { ...got.value, role }).commit()).ok);
  };
  try {
    const adminA = await signIn(a.base, { token: TOKEN });
    await createUser(a.base, adminA, "eve", "admin");
    const eve = await signIn(b.base, { name: "eve", password: "eve-password-123" });
    await createUser(b.base, eve, "u1", "viewer");

    await setRole("eve", "operator");
    const refused = await post(b.base, eve, "/console/users", {
      name: "u2",
      role: "admin",
      password: "u2-password-1234",
    });
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.text, /eve is operator/);
    assert.equal(await listed(a.base, adminA, "u2"), false);
    // Still signed in, as an operator.
    assert.match((await get(b.base, eve, "/console/actors")).text, /eve \(operator\)/);

    // Raised again: page views take it within the bound.
    await setRole("eve", "admin");
    clockB.advance(USER_RECHECK_MS);
    const page = await get(b.base, eve, "/console/users");
    assert.equal(page.status, 200);
    assert.match(page.text, /eve \(admin\)/);
    assert.deepEqual(
      logged(b, "console.session-role").map((l) => [l.user, l.from, l.to]),
      [["eve", "admin", "operator"], ["eve", "operator", "admin"]],
    );
    assert.equal(logged(b, "console.session-ended").length, 0);
  } finally {
    await close();
  }
});
