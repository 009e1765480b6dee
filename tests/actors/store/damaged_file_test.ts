/**
 * A KV file found damaged (SQLite's "database disk image is malformed", as a torn page gives)
 * stops the store taking anything more: the pages that still take commits would otherwise keep
 * acknowledging messages into queues that cannot be read. Found by a queue read here (a real KV
 * file whose `list` is made to fail as the damaged file's did); told once, and it stays so until
 * the engine restarts, whatever later commits do.
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { StoreUnavailableError } from "../../../actors/store/health.ts";
import { Store } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();

function accept(store: Store, id: string) {
  return store.accept({
    queue: "mllp-out:127.0.0.1:9",
    origin: { kind: "integration", id: "feed" },
    payload: enc.encode(`MSH|^~\\&|A|B|C|D|20260101||ADT^A01|${id}|P|2.5`),
    contentType: "application/hl7-v2",
    controlId: id,
    log: { type: "SEND", integrationId: "feed" },
  });
}

Deno.test("a read that finds the KV file damaged makes the store refuse every commit from then on, logged once with what to do", async () => {
  await using dir = await tempDir({ prefix: "damaged-kv-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  const log = memoryLogger();
  store.health.configure({ log, warnIntervalMs: 30_000 });
  try {
    assert.equal((await accept(store, "C1")).status, "stored");
    const list = store.kv.list.bind(store.kv);
    store.kv.list = () => {
      throw new Error("database disk image is malformed");
    };
    await assert.rejects(() => store.peek("mllp-out:127.0.0.1:9"), /malformed/);
    store.kv.list = list;
    assert.equal(store.health.writable, false);
    assert.match(store.health.state.reason ?? "", /^the KV file is damaged \(database disk image/);
    // The file still takes commits here; the store takes none.
    await assert.rejects(() => accept(store, "C2"), StoreUnavailableError);
    await assert.rejects(() => accept(store, "C3"), /storage is not writable: the KV file is dam/);
    assert.equal((await store.health.check()).writable, false, "a probe does not end it");
    assert.equal((await store.peek("mllp-out:127.0.0.1:9", 10)).length, 1, "only C1 stored");
    const lines = log.lines.filter((l) => l.includes("store.damaged"));
    assert.equal(lines.length, 1, log.lines.join("\n"));
    assert.match(lines[0]!, /restore the KV file from a backup/);
    // Another error (not damage) is not taken for it.
    assert.equal(store.health.noticeDamage(new Error("database or disk is full")), false);
  } finally {
    store.close();
  }
});
