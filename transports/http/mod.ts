/**
 * HTTP transports (Hono): the admin endpoint.
 * @module
 */

export { type AdminAppOptions, type AdminSupervisor, createAdminApp } from "./admin.ts";
export { checkBearer, type DenialReason, remoteAddress, requireBearer } from "./auth.ts";
export { type ActorStatusView, type MessageView } from "./present.ts";
