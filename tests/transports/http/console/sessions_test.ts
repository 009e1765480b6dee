/**
 * Console sessions: deleting a user ends that user's sessions, and only theirs: the admin token
 * signs in under the name `admin`, which a user created before the name was reserved may bear too.
 */

import assert from "node:assert/strict";
import { Secret } from "../../../../actors/config/secret.ts";
import { Sessions } from "../../../../transports/http/console/sessions.ts";
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
  const userSession = sessions.create({ name: "admin", role: "operator" }, "127.0.0.1");
  const other = sessions.create({ name: "ops", role: "operator" }, "127.0.0.1");
  sessions.endUser("admin");
  assert.ok(sessions.touch(tokenSession.id), "the admin token's session goes on");
  assert.equal(sessions.touch(userSession.id), undefined, "the deleted user's session ended");
  assert.ok(sessions.touch(other.id));
});
