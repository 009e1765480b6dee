/** @jsxImportSource hono/jsx */
/**
 * `/console/audit`: the audit log, newest first, with cursor pagination.
 * @module
 */

import type { Hono } from "hono";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { Page, time } from "./layout.tsx";

/** Adds the audit page. */
export function auditRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get("/console/audit", async (c) => {
    const cursor = c.req.query("cursor")?.slice(0, 64);
    const page = await deps.state.listAudit({ limit: 100, ...(cursor ? { cursor } : {}) });
    return c.html(
      <Page title="Audit" active="/console/audit" session={c.var.session}>
        <h1>Audit log</h1>
        <p class="muted">
          Every operator action, from the console and the admin API. As JSON:{" "}
          <code>GET /admin/audit</code>.
        </p>
        <div id="live" data-live>
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>On</th>
                <th>Reason</th>
                <th>Outcome</th>
                <th>From</th>
              </tr>
            </thead>
            <tbody>
              {page.entries.map((e) => (
                <tr data-audit-id={e.id} data-action={e.action}>
                  <td>{time(e.at)}</td>
                  <td>
                    {e.by} <span class="muted">({e.role})</span>
                  </td>
                  <td>{e.action}</td>
                  <td>{e.target}</td>
                  <td>{e.reason}</td>
                  <td class={e.ok ? "" : "error"}>{e.message}</td>
                  <td>
                    {e.address} <span class="muted">{e.via}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.entries.length === 0 ? <p class="muted">Nothing yet.</p> : null}
          {page.next
            ? (
              <p>
                <a href={`/console/audit?cursor=${encodeURIComponent(page.next)}`}>Older →</a>
              </p>
            )
            : null}
        </div>
      </Page>,
    );
  });
}
