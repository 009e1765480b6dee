/**
 * `GET /admin/nodes` (behind the admin token): the engine processes sharing the KV, from their
 * heartbeats — id, address, version, start and last seen (ISO 8601 UTC), live or not (judged by
 * this node: records seen changing within a lease), actors held, load, weight, newest id, and the
 * estimated offset of each node's clock from this one's (`clockOffsetMs`) — and which node this
 * answer came from.
 * @module
 */

import type { Hono } from "hono";
import type { Secret } from "../actors/config/mod.ts";
import type { Engine } from "../actors/engine/engine.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { requireBearer } from "../transports/http/auth.ts";
import { isoTimes } from "../transports/http/present.ts";

/** Adds `GET /admin/nodes` to `app`. */
export function mountNodes(app: Hono, engine: Engine, token: Secret, log: Logger): void {
  app.get("/admin/nodes", requireBearer({ token, log }), async (c) => {
    const nodes = await engine.cluster.nodes();
    // Times in ISO 8601 UTC, as in every admin answer.
    return c.json(isoTimes({ node: engine.cluster.node, nodes }) as Record<string, unknown>, 200, {
      "cache-control": "no-store",
    });
  });
}
