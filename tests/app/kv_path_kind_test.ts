/**
 * The app's commands follow the store's one rule for `kv.path` (actors/store/kv.ts `kvPathKind`):
 * an upper-case KV Connect URL is a URL to `check` and to the admin token too, and `http:foo`
 * (no `//`) is a local file. (No test here changes the working directory or the environment: test
 * modules run side by side in one process.)
 */

import assert from "node:assert/strict";
import { adminTokenFile } from "../../app/admin_token.ts";
import { kvLocation } from "../../app/config_check.ts";

Deno.test("kv path kind: check takes an upper-case KV Connect URL as a URL, not a path under the cwd", () => {
  assert.deepEqual(kvLocation("HTTPS://kv.example.org", "/srv/engine"), {
    absolute: "HTTPS://kv.example.org",
    relative: false,
    cwd: "/srv/engine",
  });
  assert.equal(kvLocation("http:foo", "/srv/engine").absolute, "/srv/engine/http:foo");
});

Deno.test("kv path kind: a generated admin token goes to ./data for memory and KV Connect (any case), beside a local file otherwise", () => {
  const table: [string, string][] = [
    [":memory:", "./data/admin.token"],
    ["https://kv.example.org", "./data/admin.token"],
    ["HTTPS://kv.example.org", "./data/admin.token"],
    ["data/engine.kv", "data/admin.token"],
    ["/var/lib/engine/engine.kv", "/var/lib/engine/admin.token"],
    ["engine.kv", "./admin.token"],
    ["http:foo", "./admin.token"],
  ];
  for (const [kvPath, path] of table) assert.equal(adminTokenFile(kvPath).path, path, kvPath);
});
