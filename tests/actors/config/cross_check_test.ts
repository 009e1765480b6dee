/**
 * Cross-section checks of destinations of kind `sftpOutbox`: they deliver into the outbox of a
 * user of the hosted `sftpServer`, so that section must exist and name the user.
 */

import assert from "node:assert/strict";
import { type ConfigSources, parseConfig } from "../../../actors/config/mod.ts";

/** Every variable set, every file readable: only the config's own shape is under test. */
const lenient: ConfigSources = { env: (name) => `value-of-${name}`, readFile: (p) => `pem:${p}` };

const sftpServer = {
  port: 2222,
  hostKey: { env: "HOST_KEY" },
  users: [
    { name: "clinic", publicKeys: ["ssh-ed25519 AAAAC3Nz clinic"], integration: "clinic-files" },
    { name: "lab", publicKeys: ["ssh-ed25519 AAAAC3Nz lab"], integration: "lab-files" },
  ],
};

/** A hosted folder with two users, and an outbox destination for `user`. */
function withOutbox(user: string, server: unknown = sftpServer) {
  return {
    environments: [{ id: "dev", type: "development" }],
    integrations: [
      { id: "clinic-files", environment: "dev" },
      { id: "lab-files", environment: "dev" },
      { id: "feed", environment: "dev", mllp: { port: 9960, allowedIps: ["127.0.0.1"] } },
    ],
    ...(server ? { sftpServer: server } : {}),
    destinations: [
      { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: 9961 } },
      { id: "results", environment: "dev", sftpOutbox: { user } },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr", "results"] }],
  };
}

Deno.test("config accepts an sftpOutbox destination naming a user of the hosted sftpServer", () => {
  const result = parseConfig(withOutbox("lab"), lenient);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.deepEqual(result.config.destinations[1]?.sftpOutbox, {
    user: "lab",
    fileName: "{ts}-{id}.{ext}",
  });
});

Deno.test("config refuses an sftpOutbox destination whose user is not in sftpServer.users", () => {
  const result = parseConfig(withOutbox("billing"), lenient);
  assert.equal(result.ok, false);
  assert.deepEqual(!result.ok && result.problems, [{
    path: "$.destinations[1].sftpOutbox.user",
    message: 'unknown sftpServer user "billing" (known: clinic, lab)',
  }]);
});

Deno.test("config refuses an sftpOutbox destination when there is no sftpServer section", () => {
  // Without a hosted folder no integration can be fed by a user either: keep only the MLLP one.
  const value = withOutbox("lab", null);
  value.integrations = value.integrations.filter((i) => i.mllp);
  const result = parseConfig(value, lenient);
  assert.equal(result.ok, false);
  assert.deepEqual(!result.ok && result.problems, [{
    path: "$.destinations[1].sftpOutbox",
    message:
      'an sftpOutbox destination needs the hosted "sftpServer" section, where user "lab" downloads its files',
  }]);
});

Deno.test("config refuses an sftpOutbox user of a hosted folder that has no users", () => {
  const result = parseConfig(withOutbox("lab", { ...sftpServer, users: [] }), lenient);
  assert.equal(result.ok, false);
  const problems = !result.ok ? result.problems : [];
  // The two user-fed integrations are reported too; the outbox problem is among them.
  assert.ok(
    problems.some((p) =>
      p.path === "$.destinations[1].sftpOutbox.user" &&
      p.message === 'unknown sftpServer user "lab" (known: none)'
    ),
    JSON.stringify(problems),
  );
});
