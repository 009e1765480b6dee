/**
 * Deno KV expires a key by the wall clock of whichever process reads it: a process whose clock
 * stepped forward erases every key past its time by that clock, from the shared file, for good.
 * So nothing whose loss matters is written with an expiry the wall clock can reach early: dedupe
 * records none (their window is their own time, and the retention sweep removes them), used
 * client-assertion `jti`s only a week past their use. Checked in the SQLite file itself.
 */

import assert from "node:assert/strict";
import { Store } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

const WEEK = 7 * 86_400_000;

/** The part of node:sqlite used here (Deno 2.9.6 ships no types for it). */
interface Sqlite {
  DatabaseSync: new (path: string) => {
    prepare(sql: string): { all(): Record<string, unknown>[] };
    close(): void;
  };
}
const SQLITE = "node:sqlite";

Deno.test("a dedupe record has no KV expiry, and a used jti's expiry lies a week past its use", async () => {
  await using dir = await tempDir({ prefix: "wall-expiry-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "t" });
  const now = Date.now();
  try {
    const stored = await store.accept({
      queue: "mllp-in:1:127.0.0.1",
      origin: { kind: "integration", id: "feed" },
      payload: new TextEncoder().encode("MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C1|P|2.5"),
      contentType: "application/hl7-v2",
      controlId: "C1",
      dedupe: { scope: "feed", key: "C1", ack: "ACK C1", windowMs: 86_400_000 },
      log: { type: "RECEIVE", integrationId: "feed" },
    });
    assert.equal(stored.status, "stored");
    assert.ok(await store.auth.useJti("client", "jti-1", now + 60_000, () => now));
  } finally {
    store.close();
  }
  const { DatabaseSync } = await import(SQLITE) as Sqlite;
  const db = new DatabaseSync(path);
  try {
    const expiring = db.prepare("SELECT expiration_ms FROM kv WHERE expiration_ms >= 0").all()
      .map((r) => Number(r.expiration_ms));
    // One: the jti, due a week after its assertion's own end at the earliest.
    assert.equal(expiring.length, 1, JSON.stringify(expiring));
    assert.ok(expiring[0]! >= now + WEEK, `${expiring[0]! - now} ms from now`);
  } finally {
    db.close();
  }
});
