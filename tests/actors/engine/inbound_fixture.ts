/**
 * An inbound actor on its own for state tests: an empty development config, a `:memory:` KV
 * store, a manual clock, nobody to notify.
 * @module
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { InboundActor } from "../../../actors/engine/inbound_actor.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";

/** The actor `mllp-in:2575:127.0.0.1`, its store and its clock (close the store when done). */
export async function idleInboundActor(
  options: { pollMs: number; idleDeactivateMs?: number },
): Promise<{ actor: InboundActor; store: Store; clock: ManualClock }> {
  const parsed = parseConfig({ environments: [{ id: "dev", type: "development" }] }, {
    env: () => undefined,
    readFile: () => new Error("no files"),
  });
  assert.ok(parsed.ok);
  const store = new Store(await Deno.openKv(":memory:"), { node: "t" });
  const clock = new ManualClock();
  const actor = new InboundActor({
    id: "mllp-in:2575:127.0.0.1",
    config: parsed.config,
    store,
    clock,
    log: memoryLogger(),
    notify: () => {},
    decode: (b) => new TextDecoder().decode(b),
    ...options,
  });
  return { actor, store, clock };
}
