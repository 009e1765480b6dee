/**
 * Another process holding SQLite's write lock on the engine's KV file (a stalled or frozen engine
 * sharing the file, a backup tool, a `sqlite3` shell left in a transaction). Deno KV's SQLite waits
 * up to 5 s for the lock on each attempt; the engine stops retrying after its budget, so a sender
 * gets `AE` naming the lock within seconds instead of silence for minutes, the operator gets a
 * warning with the same reason, and once the lock is released the engine takes and delivers
 * messages again without a restart.
 */

import assert from "node:assert/strict";
import { firstLine } from "../helpers/child_output.ts";
import { adt, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { EngineProcess, nextControlId } from "./engine_process.ts";

/** Starts a process holding the write lock on `kvPath`; resolves once it holds it. */
async function holdWriteLock(kvPath: string): Promise<{ release: () => Promise<void> }> {
  const holder = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/hold_write_lock.ts", import.meta.url).pathname, kvPath],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const said = await firstLine(holder.stdout, "the lock holder");
  assert.equal(said, "held");
  return {
    release: async () => {
      await holder.stdin.close();
      const status = await holder.status;
      assert.equal(status.code, 0, "the lock holder released the lock and exited");
    },
  };
}

Deno.test({
  name:
    "the KV file's write lock held by another process: AE naming the lock within seconds, one warning, no crash; released: AA and delivery resume",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const engine = await EngineProcess.start();
    let lock: { release: () => Promise<void> } | undefined;
    try {
      const rssBefore = await engine.rssKb();
      // The engine is idle, so nothing of its own is in a write transaction when the lock is taken.
      lock = await holdWriteLock(engine.kvPath);
      const id = nextControlId("LOCK");
      const sender = await RawMllpSender.connect(engine.mllpPort);
      const sentAt = Date.now();
      let ack;
      try {
        ack = summarizeAck(await sender.request(adt(id), 60_000));
      } finally {
        await sender.close();
      }
      const waitedMs = Date.now() - sentAt;
      assert.equal(ack.code, "AE", JSON.stringify(ack));
      assert.equal(ack.msa2, id);
      assert.match(ack.reason ?? "", /locked by another process/, JSON.stringify(ack));
      // The budget (10 s) plus the attempt under way when it ran out (up to 5 s) and the thread.
      assert.ok(waitedMs < 20_000, `the AE came after ${waitedMs} ms`);
      await waitFor(
        "a warning naming the lock",
        () =>
          engine.lines("store.not-writable").some((l) => l.includes("locked by another process")),
        10_000,
      );
      assert.equal(engine.lines("store.not-writable").length, 1, "one warning, not one per write");
      assert.ok(engine.alive, engine.output.slice(-4000));

      await lock.release();
      lock = undefined;
      // New messages are stored with AA and delivered; the refused one was never stored.
      await engine.assertHealthy(rssBefore);
      assert.ok(!(await engine.receivedControlIds()).has(id), "the refused message is not stored");
      await waitFor(
        "writable again, logged",
        () => engine.lines("store.writable-again").length > 0,
      );
    } finally {
      await lock?.release().catch(() => {});
      await engine.stop();
    }
  },
});
