/**
 * A reload's queue move waits for the routes begun under the config it replaced (red team 15,
 * F1), holding the new address's queue meanwhile, and waits a bounded time: past it, a WARN says
 * what is still under way and the move goes on. Real KV file; the routes are counted as the
 * engine's routing paths count them (config_holder.ts).
 */

import assert from "node:assert/strict";
import type { Config } from "../../../actors/config/mod.ts";
import { ConfigHolder, routeBegins, routesUnder } from "../../../actors/engine/config_holder.ts";
import { QueueMoves } from "../../../actors/engine/queue_moves.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { systemClock } from "../../../actors/runtime/clock.ts";
import { Store } from "../../../actors/store/store.ts";
import { configFrom } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

/** One MLLP feed, subscribed by destination `dest` at 127.0.0.1:`port`. */
function config(kv: string, port: number): Config {
  return configFrom({
    node: { id: "test" },
    kv: { path: kv },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 2575, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "dest", environment: "dev", mllp: { host: "127.0.0.1", port } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["dest"] }],
  });
}

async function withMoves(
  drainMs: number,
  test: (o: {
    holder: ConfigHolder;
    moves: QueueMoves;
    next: Config;
    lines: string[];
  }) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir({ prefix: "moves-drain-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "test" });
  const log = memoryLogger();
  const running = config(path, 4001);
  const holder = new ConfigHolder(running, { hash: "one", loadedAt: 0, generation: 1 });
  const moves = new QueueMoves({
    store,
    log,
    clock: systemClock,
    pollMs: 50,
    drainMs,
    config: () => holder.current,
    actors: () => undefined,
  });
  try {
    await test({ holder, moves, next: config(path, 4002), lines: log.lines });
  } finally {
    store.close();
  }
}

Deno.test("a move holds the new address's queue until the routes begun under the old config end", async () => {
  await withMoves(30_000, async ({ holder, moves, next, lines }) => {
    const running = holder.current;
    // A route read the old config; its commit has not settled.
    const route = routeBegins(running);
    const plan = moves.plan(running, next);
    holder.swap(next, "two", 1);
    // Empty as the old queue is, the new address's queue is held.
    assert.ok(moves.held.has("mllp-out:127.0.0.1:4002"), [...moves.held].join());
    let done = false;
    const applying = moves.apply(plan, routesUnder(running)).then((applied) => {
      done = true;
      return applied;
    });
    // Routes under the new config do not hold the move back.
    routeBegins(next);
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(done, false);
    assert.ok(moves.held.has("mllp-out:127.0.0.1:4002"));
    route.end();
    assert.deepEqual(await applying, [
      "moved mllp-out:127.0.0.1:4001 to mllp-out:127.0.0.1:4002",
    ]);
    assert.equal(moves.held.size, 0);
    assert.ok(!lines.some((l) => / config\.move-waited /.test(l)), lines.join("\n"));
  });
});

Deno.test("a move waits for the old config's routes at most drainMs, then says what is still under way and moves on", async () => {
  await withMoves(150, async ({ holder, moves, next, lines }) => {
    const running = holder.current;
    const route = routeBegins(running);
    const plan = moves.plan(running, next);
    holder.swap(next, "two", 1);
    const applied = await moves.apply(plan, routesUnder(running));
    assert.deepEqual(applied, ["moved mllp-out:127.0.0.1:4001 to mllp-out:127.0.0.1:4002"]);
    assert.equal(moves.held.size, 0);
    const warn = lines.filter((l) => / WARN +config\.move-waited /.test(l));
    assert.equal(warn.length, 1, lines.join("\n"));
    assert.match(warn[0]!, /routes=1 /);
    assert.match(warn[0]!, /queues=\["mllp-out:127\.0\.0\.1:4001"\]/);
    assert.match(warn[0]!, /had not committed after 150 ms/);
    route.end();
  });
});
