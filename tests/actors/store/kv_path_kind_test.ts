/**
 * One rule for what `kv.path` names (actors/store/kv.ts `kvPathKind`): exactly `:memory:` is
 * memory, `http://`/`https://` in any case is a KV Connect URL, anything else a local file; and
 * the store opens an upper-case KV Connect URL on the server, not as a file named like it.
 */

import assert from "node:assert/strict";
import { kvPathKind } from "../../../actors/store/kv.ts";
import { localKvFile } from "../../../actors/store/integrity_check.ts";
import { Store } from "../../../actors/store/mod.ts";
import { startKvConnectServer } from "../../helpers/kv_connect_server.ts";
import { adt } from "../../helpers/net.ts";

const TOKEN = "kv-connect-test-token-0123";

Deno.test("kv path kind: :memory: exactly is memory, http(s):// in any case is remote, the rest are files", () => {
  const table: [string, string][] = [
    [":memory:", "memory"],
    ["http://127.0.0.1:4512", "remote"],
    ["https://kv.example.org", "remote"],
    ["HTTPS://kv.example.org", "remote"],
    ["Https://kv.example.org/db", "remote"],
    ["HTTP://127.0.0.1:4512", "remote"],
    ["./data/engine.kv", "file"],
    ["/abs/engine.kv", "file"],
    ["engine.kv", "file"],
    ["http:foo", "file"],
    ["https:/one-slash", "file"],
    [":memory:x", "file"],
    [":MEMORY:", "file"],
  ];
  for (const [path, kind] of table) assert.equal(kvPathKind(path), kind, path);
});

Deno.test("kv path kind: the integrity check finds no local file behind an upper-case KV Connect URL", () => {
  assert.equal(localKvFile("HTTPS://kv.example.org"), undefined);
  assert.equal(localKvFile(":memory:"), undefined);
  assert.equal(localKvFile("./data/engine.kv"), "./data/engine.kv");
});

Deno.test("kv path kind: the store opens an upper-case HTTP:// URL on the KV Connect server, writing no file named like it", async () => {
  const server = await startKvConnectServer({ accessToken: TOKEN });
  // Taken for a file path, the URL would be a folder `HTTP:` in the working directory. (The
  // working directory is not changed here: test modules run side by side in one process.)
  const strayBefore = exists("HTTP:");
  let store: Store | undefined;
  try {
    const url = server.url.replace(/^http/, "HTTP");
    assert.match(url, /^HTTP:\/\/127\.0\.0\.1:\d+$/);
    store = await Store.open({ path: url, accessToken: TOKEN, node: "n1" });
    const accepted = await store.accept({
      queue: "in:feed",
      origin: { kind: "integration", id: "feed" },
      payload: new TextEncoder().encode(adt("M1")),
      contentType: "x-application/hl7-v2+er7",
      controlId: "M1",
      dedupe: { scope: "feed", key: "M1", ack: "ACK M1", windowMs: 3_600_000 },
      log: { type: "RECEIVE", integrationId: "feed" },
    });
    assert.equal(accepted.status, "stored");
    assert.equal(await store.depth("in:feed"), 1, "read back");
    assert.ok(server.stats.writes >= 1, "the write went to the KV Connect server");
    assert.ok(server.stats.reads >= 1, "the read came from the KV Connect server");
    assert.ok(strayBefore || !exists("HTTP:"), "no folder named like the URL was made");
  } finally {
    store?.close();
    await server.close();
    // The code before this rule made one: not left behind by a failing run.
    if (!strayBefore && exists("HTTP:")) Deno.removeSync("HTTP:", { recursive: true });
  }
});

/** Whether `path` exists (relative to the working directory). */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
