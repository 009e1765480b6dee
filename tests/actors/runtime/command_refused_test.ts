/**
 * An operator command on an actor this node cannot run says why in the operator's terms: its
 * lease is another process's (one running it, or one stopped without releasing it), or the
 * engine is stopping. Before, both said "active on another node", which sent operators looking
 * for a node that did not exist.
 */

import assert from "node:assert/strict";
import type { Actor, ActorStatus } from "../../../actors/runtime/actor.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Leases } from "../../../actors/store/leases.ts";
import { Store } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

const ID = "mllp-out:ehr";

/** Runs until stopped; answers every command. */
class IdleActor implements Actor {
  readonly kind = "test";
  constructor(readonly id: string) {}
  notify(): void {}
  async run(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
  }
  status(): Promise<ActorStatus> {
    return Promise.resolve({ id: this.id, kind: this.kind, state: "idle", queueDepth: 0 });
  }
  command() {
    return Promise.resolve({ ok: true, message: "done" });
  }
}

Deno.test("a command on an actor whose lease another process holds, or sent while the engine stops, names that", async () => {
  await using dir = await tempDir({ prefix: "command-refused-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "node-a" });
  const other = new Leases(store.kv, "node-b", { ttlMs: 30_000 });
  const supervisor = new Supervisor({
    store,
    log: memoryLogger(),
    pollMs: 0,
    leases: store.leases({ ttlMs: 30_000 }),
    factory: (id) => id === ID ? new IdleActor(id) : undefined,
  });
  try {
    await supervisor.start();
    assert.equal(await other.acquire(ID), true);
    const held = await supervisor.command(ID, "pause", "ops", "maintenance");
    assert.equal(held?.ok, false);
    assert.match(
      held!.message,
      /could not be activated here: its lease is held by another process/,
    );
    assert.doesNotMatch(held!.message, /another node/);

    await other.release(ID);
    assert.equal((await supervisor.command(ID, "pause", "ops", "maintenance"))?.ok, true);
    await supervisor.stop();
    const stopping = await supervisor.command("mllp-out:other", "pause", "ops", "maintenance");
    assert.equal(stopping, undefined, "an unknown actor is still unknown");
    const late = await supervisor.command(ID, "resume", "ops", "done");
    assert.match(
      late?.message ?? "",
      /the engine is stopping: actor mllp-out:ehr takes no command/,
    );
  } finally {
    await supervisor.stop();
    store.close();
  }
});
