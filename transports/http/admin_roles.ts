/**
 * Roles on the JSON admin routes: a bearer token stands for a user (the admin token for `admin`,
 * or a user's own token) whose role decides what it may do: `viewer` reads, `operator` changes
 * queues and logs (every POST under `/admin`). Refusals: 401 without a known token, 403 when the
 * role is too weak. Operator actions are written to the audit log. Wrong tokens count against
 * their address as in auth.ts (`429` with `Retry-After` past the limit).
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import type { AuditEntry, Logger, Role } from "../../actors/ports.ts";
import {
  type BearerFailures,
  bearerFailures,
  checkBearer,
  remoteAddress,
  setAdminLog,
} from "./auth.ts";
import { peerIp } from "./peer.ts";
import { sendJson } from "./respond.ts";
import { AUTH_LOG_BURST, PeerLog } from "./peer_log.ts";

/** Who a token stands for. */
export interface TokenPrincipal {
  name: string;
  role: Role;
}

/** What the admin routes need to know users by token and to audit their actions. */
export interface AdminUsers {
  /** The user a bearer token stands for, if any. */
  byToken(token: string): Promise<TokenPrincipal | undefined>;
  /** Writes one audit entry (id and time are the callee's). */
  audit(entry: Omit<AuditEntry, "id" | "at">): Promise<void>;
  /** The audit log, newest first (`GET /admin/audit`). */
  listAudit(options: { cursor?: string; limit?: number }): Promise<{
    entries: AuditEntry[];
    next?: string;
  }>;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * Authenticates by bearer token through `users` (401 as `requireBearer` does), then refuses a
 * POST from a `viewer` with 403. The principal is kept as `c.get("principal")`.
 */
export function requireRoleByToken(
  users: AdminUsers,
  log: Logger,
  failures: BearerFailures = bearerFailures(log),
): MiddlewareHandler {
  // A client may retry a wrong token in a loop: throttled per address (peer_log.ts).
  const denials = new PeerLog(log, { burst: AUTH_LOG_BURST });
  return async (c, next) => {
    const throttled = failures.refuse(c);
    if (throttled) return throttled;
    const header = c.req.header("authorization")?.trim() ?? "";
    const credential = /^bearer\s+(\S+)$/i.exec(header)?.[1] ?? "";
    const shape = checkBearer(header, { equals: () => true } as never);
    const who = shape.ok ? await users.byToken(credential) : undefined;
    if (!who) {
      // Only a token presented and wrong is a guess; a missing header guesses nothing.
      if (shape.ok) failures.failed(c);
      denials.warn("admin.denied", peerIp(c), {
        remote: remoteAddress(c),
        method: c.req.method,
        path: c.req.path.slice(0, 256),
        why: shape.ok ? "mismatch" : shape.why,
      });
      return sendJson(c, { error: "unauthorized" }, 401, { "WWW-Authenticate": "Bearer" });
    }
    const needed: Role = c.req.method === "GET" || c.req.method === "HEAD" ? "viewer" : "operator";
    if (RANK[who.role] < RANK[needed]) {
      log.warn("admin.forbidden", {
        user: who.name,
        role: who.role,
        path: c.req.path.slice(0, 256),
      });
      // Only what is sure here: a viewer may only read. Some routes need an admin (they say so
      // to an operator); naming "operator" to a viewer there would send them to the wrong role.
      return sendJson(
        c,
        {
          error: `forbidden: ${who.name} is ${who.role}, who may only read; ` +
            `${c.req.method} needs an operator or an admin`,
        },
        403,
      );
    }
    c.set("principal" as never, who as never);
    c.set(ADMIN_USERS as never, users as never);
    setAdminLog(c, log);
    return await next();
  };
}

const ADMIN_USERS = "adminUsers";

/** The users (and audit log) of the request's admin app, when it has users (set by requireRoleByToken). */
export function adminUsersOf(c: Context): AdminUsers | undefined {
  return c.get(ADMIN_USERS as never) as AdminUsers | undefined;
}

/** Audits an admin API action, if the app was given users. */
export async function auditApi(
  users: AdminUsers | undefined,
  c: Context,
  facts: { action: string; target: string; reason: string; ok: boolean; message: string },
): Promise<void> {
  if (!users) return;
  const who = c.get("principal" as never) as TokenPrincipal | undefined;
  await users.audit({
    by: who?.name ?? "admin",
    role: who?.role ?? "admin",
    address: peerIp(c),
    via: "api",
    ...facts,
  });
}
