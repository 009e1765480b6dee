/**
 * An engine for the console upload's tests: one file-fed integration `files` (the hosted SFTP
 * folder's user `lab`: the config needs a way in for it), HTTP with the console, and the fixture's
 * admin token. Needs `ssh-keygen` (the SFTP server's host and user keys).
 * @module
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../../actors/config/mod.ts";
import { startEngine, type TestEngine } from "../../../helpers/engine.ts";
import { testKey } from "../../../helpers/sshd.ts";
import { TOKEN } from "./fixture.ts";

/** The engine over KV and SFTP files in `dir`, as node `name` (its keys are named after it). */
export async function filesEngine(dir: string, name: string): Promise<TestEngine> {
  const [hostKey, userKey] = await Promise.all([
    testKey(`${name}_host`, { type: "ed25519" }),
    testKey(`${name}_user`, { type: "ed25519" }),
  ]);
  const parsed = parseConfig({
    node: { id: name.replaceAll("_", "-") },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "CONSOLE_TEST_TOKEN" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{ id: "files", environment: "dev" }],
    sftpServer: {
      port: 0,
      hostname: "127.0.0.1",
      hostKey: { env: "HOST_KEY" },
      root: `${dir}/sftp`,
      users: [{ name: "lab", publicKeys: [userKey.publicKey], integration: "files" }],
    },
  }, {
    env: (key) => ({ CONSOLE_TEST_TOKEN: TOKEN, HOST_KEY: hostKey.privateKey })[key],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return await startEngine(parsed.config, { http: true });
}
