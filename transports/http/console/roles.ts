/**
 * Role checks for console routes: a request whose session's role is below the one a route
 * needs gets 403 (and a warning in the log).
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { Role } from "../../../actors/ports.ts";
import type { ConsoleEnv } from "./context.ts";
import { allows } from "./users.ts";

/** Lets the request through only when the signed-in user's role allows `needed`. */
export function requireRole(needed: Role): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const who = c.var.session.principal;
    if (!allows(who.role, needed)) {
      return c.text(`forbidden: ${who.name} is ${who.role}; this needs ${needed}`, 403);
    }
    return await next();
  };
}
