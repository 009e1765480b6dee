/** @jsxImportSource hono/jsx */
/**
 * `/console/destinations`: every destination with its verification state (HTTPS), a verify
 * button, and how its delivery stands: its actor (shared by MLLP destinations at one host:port),
 * state, messages waiting, last error and last activity (an attempt, not necessarily a delivery).
 * @module
 */

import type { Hono } from "hono";
import type { DestinationView } from "../../../actors/ports.ts";
import { peerIp } from "../peer.ts";
import { writeAudit } from "./audit.ts";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { href, Page, PostButton, time } from "./layout.tsx";
import { requireRole } from "./roles.ts";
import { allows } from "./users.ts";

/** Adds the destinations page and verify. */
export function destinationRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get("/console/destinations", async (c) => {
    const [views, statuses] = await Promise.all([
      deps.destinations ? deps.destinations.list() : Promise.resolve([] as DestinationView[]),
      deps.supervisor.statuses(),
    ]);
    const verified = new Map(views.map((v) => [v.id, v]));
    const actors = new Map(statuses.map((s) => [s.id, s]));
    const session = c.var.session;
    const flash = c.req.query("done");
    return c.html(
      <Page title="Destinations" active="/console/destinations" session={session}>
        <h1>Destinations</h1>
        {flash ? <p class="notice" role="status">{flash.slice(0, 300)}</p> : null}
        <div id="live" data-live>
          <table>
            <thead>
              <tr>
                <th>Destination</th>
                <th>Environment</th>
                <th>Type</th>
                <th>Verification</th>
                <th>Delivery</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {deps.config.destinations.map((d) => {
                const v = verified.get(d.id);
                const actor = deps.actorOfDestination(d.id);
                const status = actor ? actors.get(actor) : undefined;
                const type = d.https ? "https" : d.mllp ? "mllp" : "sftp";
                return (
                  <tr data-destination-id={d.id}>
                    <td>{d.id}</td>
                    <td>{d.environment}</td>
                    <td>{type}</td>
                    <td>
                      {v && v.verified !== null
                        ? (v.verified
                          ? `verified ${time(v.verifiedAt ?? undefined)}`
                          : v.verificationRequired
                          ? "not verified (required)"
                          : "not verified")
                        : "–"}
                    </td>
                    <td data-actor-id={actor} data-state={status?.state}>
                      {status
                        ? (
                          <>
                            <a href="/console/actors">{status.id}</a> {status.paused
                              ? `paused by ${status.paused.by ?? "?"}${
                                status.paused.reason
                                  ? `: ${status.paused.reason.slice(0, 200)}`
                                  : ""
                              }`
                              : status.state}
                            {` · ${status.queueDepth} waiting`}
                            {status.lastActivityAt
                              ? ` · last activity ${time(status.lastActivityAt)}`
                              : ""}
                            {status.lastError
                              ? <div class="muted">{status.lastError.slice(0, 200)}</div>
                              : null}
                          </>
                        )
                        : "–"}{" "}
                      <a href={`/console/logs?destination=${encodeURIComponent(d.id)}`}>logs</a>
                    </td>
                    <td>
                      {d.https && allows(session.principal.role, "operator")
                        ? (
                          <PostButton
                            session={session}
                            action={`${href("/console/destinations", d.id)}/verify`}
                            label="Verify"
                          />
                        )
                        : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </Page>,
    );
  });

  app.post("/console/destinations/:id/verify", requireRole("operator"), async (c) => {
    const id = c.req.param("id").slice(0, 128);
    const verifying = deps.destinations?.verify(id);
    const who = c.var.session.principal;
    const result = verifying ? await verifying : undefined;
    const message = !result
      ? `no HTTPS destination ${id}`
      : result.verified
      ? "verified"
      : `not verified: ${result.reason ?? ""}`;
    await writeAudit(deps, who, {
      action: "verify",
      target: `destination:${id}`,
      reason: "",
      address: peerIp(c),
      via: "console",
      ok: result?.verified ?? false,
      message,
    });
    if (!result) return c.text(message, 404);
    return c.redirect(`/console/destinations?done=${encodeURIComponent(`${id}: ${message}`)}`, 303);
  });
}
