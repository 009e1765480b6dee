/**
 * Console sessions: deleting a user ends that user's sessions, and only theirs: the admin token
 * signs in under the name `admin`, which a user created before the name was reserved may bear too.
 * A KV user's session is due a re-read of its user every `userRecheckMs` on either clock.
 */

import assert from "node:assert/strict";
import { Secret } from "../../../../actors/config/secret.ts";
import { Sessions, USER_RECHECK_MS } from "../../../../transports/http/console/sessions.ts";
import { Users } from "../../../../transports/http/console/users.ts";
import type { ConsoleStateStore } from "../../../../actors/ports.ts";

Deno.test("deleting a user named admin ends that user's sessions, not the admin token's", async () => {
  const users = new Users({
    configured: [],
    adminToken: new Secret("the-admin-token", "env:TEST"),
    state: { userByTokenSha256: () => Promise.resolve(undefined) } as unknown as ConsoleStateStore,
  });
  const viaToken = await users.byToken("the-admin-token");
  assert.deepEqual(viaToken, { name: "admin", role: "admin", adminToken: true });
  const sessions = new Sessions({ idleMs: 60_000, maxMs: 3_600_000, now: () => 0 });
  const tokenSession = sessions.create(viaToken!, "127.0.0.1");
  // A KV user named admin, signed in by password (created before the name was reserved).
  const userSession = sessions.create(
    { name: "admin", role: "operator", kvIdentity: "a1" },
    "127.0.0.1",
  );
  const other = sessions.create({ name: "ops", role: "operator", kvIdentity: "b2" }, "127.0.0.1");
  sessions.endUser("admin");
  assert.ok(sessions.touch(tokenSession.id), "the admin token's session goes on");
  assert.equal(sessions.touch(userSession.id), undefined, "the deleted user's session ended");
  assert.ok(sessions.touch(other.id));
});

Deno.test("a KV user's session is due a re-read of its user once per bound, on either clock; others never", () => {
  let wall = 1_000_000, mono = 0;
  const sessions = new Sessions({
    idleMs: 3_600_000,
    maxMs: 36_000_000,
    now: () => wall,
    monotonic: () => mono,
  });
  const kv = sessions.create({ name: "eve", role: "admin", kvIdentity: "id" }, "127.0.0.1");
  const configured = sessions.create({ name: "vera", role: "viewer" }, "127.0.0.1");
  // Signed in just now (the user was read then): not due.
  assert.equal(sessions.claimUserCheck(kv), false);
  mono += USER_RECHECK_MS - 1;
  wall += USER_RECHECK_MS - 1;
  assert.equal(sessions.claimUserCheck(kv), false);
  mono += 1; // the monotonic clock alone
  assert.equal(sessions.claimUserCheck(kv), true);
  assert.equal(sessions.claimUserCheck(kv), false, "claimed: the next requests go on");
  wall += USER_RECHECK_MS; // the wall clock alone
  assert.equal(sessions.claimUserCheck(kv), true);
  wall -= 60_000; // a step back
  assert.equal(sessions.claimUserCheck(kv), true);
  mono += 10 * USER_RECHECK_MS;
  wall += 10 * USER_RECHECK_MS;
  assert.equal(sessions.claimUserCheck(configured), false, "not a KV user: nothing to re-read");

  // A role read from KV replaces the session's; the former is told once.
  assert.equal(sessions.userChecked(kv, "viewer"), "admin");
  assert.equal(sessions.touch(kv.id)?.principal.role, "viewer");
  assert.equal(sessions.userChecked(kv, "viewer"), undefined);
  assert.equal(sessions.claimUserCheck(kv), false, "just read");

  // Ended because the user went: the next request learns why, once.
  assert.equal(sessions.endUser("eve"), 1);
  assert.equal(sessions.touch(kv.id), undefined);
  assert.deepEqual(sessions.takeEnded(kv.id), { user: "eve", reason: "deleted" });
  assert.equal(sessions.takeEnded(kv.id), undefined);
  assert.ok(sessions.touch(configured.id), "a configured user's session is not a KV user's");
});

Deno.test("creating a user ends the sessions of a former user of that name, not the new one's", () => {
  const sessions = new Sessions({ idleMs: 60_000, maxMs: 3_600_000, now: () => 0 });
  const old = sessions.create({ name: "eve", role: "admin", kvIdentity: "old" }, "127.0.0.1");
  const fresh = sessions.create({ name: "eve", role: "viewer", kvIdentity: "new" }, "127.0.0.1");
  assert.equal(sessions.endUser("eve", "re-created", "new"), 1);
  assert.deepEqual(sessions.takeEnded(old.id), { user: "eve", reason: "re-created" });
  assert.ok(sessions.touch(fresh.id));
});
