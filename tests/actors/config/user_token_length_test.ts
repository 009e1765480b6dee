/**
 * A configured user's bearer token has the admin token's floor (16 characters): a shorter one is a
 * config error naming the user and the rule, at the token's path.
 * @module
 */

import assert from "node:assert/strict";
import { MIN_ADMIN_TOKEN_LENGTH, parseConfig } from "../../../actors/config/mod.ts";

const withUserToken = (value: string) =>
  parseConfig({
    admin: {
      token: { env: "ADMIN" },
      users: [
        { name: "vera", role: "viewer" },
        { name: "otto", role: "operator", token: { env: "OTTO" } },
      ],
    },
  }, {
    env: (name) =>
      ({ ADMIN: "admin-token-0123456789", OTTO: value } as Record<string, string>)[name],
    readFile: () => new Error("-"),
  });

Deno.test("config: a user's token shorter than 16 characters is refused, naming the user and the rule; 16 are accepted", () => {
  const short = withUserToken("73");
  assert.ok(!short.ok);
  const problem = short.problems.find((p) => p.path === "$.admin.users[1].token");
  assert.ok(problem, JSON.stringify(short.problems));
  assert.match(problem.message, /user "otto"/);
  assert.match(problem.message, new RegExp(`at least ${MIN_ADMIN_TOKEN_LENGTH} characters`));
  // The value itself is never echoed.
  assert.ok(!JSON.stringify(short.problems).includes('"73"'));
  assert.ok(!withUserToken("x".repeat(MIN_ADMIN_TOKEN_LENGTH - 1)).ok);
  // 16 characters or more are accepted.
  assert.ok(withUserToken("x".repeat(MIN_ADMIN_TOKEN_LENGTH)).ok);
  assert.ok(withUserToken("otto-operator-token-0123456789").ok);
});
