/** @jsxImportSource hono/jsx */
/**
 * `/console/logs/:id`: a log with its attempts as a timeline, the message as received, the
 * translation a SEND log delivered (when not the original), the related logs, and reprocess when
 * it applies; the raw message as a download.
 * @module
 */

import type { Hono } from "hono";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { Csrf, href, Page, time } from "./layout.tsx";
import { Payload } from "./hl7_view.tsx";
import { requireRole } from "./roles.ts";
import { writeAudit } from "./audit.ts";
import { peerIp } from "../peer.ts";
import { readForm } from "./security.ts";

const MAX_ID = 256;

/** A file name safe in a Content-Disposition header (no quotes, no path, no control chars). */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const clean = base.replace(/[^\w.\-]+/g, "_").slice(0, 100);
  return clean === "" || /^\.+$/.test(clean) ? "message.bin" : clean;
}

/** Adds the log page, reprocess, and the raw download. */
export function logDetailRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get("/console/logs/:id", async (c) => {
    const id = c.req.param("id").slice(0, MAX_ID);
    const log = await deps.store.getLog(id);
    if (!log) {
      return c.html(
        <Page title="No such log" active="/console/logs" session={c.var.session}>
          <p class="error">No log {id}.</p>
        </Page>,
        404,
      );
    }
    const [message, related] = await Promise.all([
      deps.store.getMessage(log.messageId),
      deps.store.logsOfMessage(log.messageId),
    ]);
    const bytes = message ? await deps.store.getPayload(message) : undefined;
    // A SEND log of a translation names the payload it delivered (a shaped one, its own).
    const deliveredId = log.deliveredId ?? log.shaping?.messageId;
    const delivered = deliveredId && deliveredId !== log.messageId
      ? await deps.store.getMessage(deliveredId)
      : undefined;
    const deliveredBytes = delivered ? await deps.store.getPayload(delivered) : undefined;
    const canReprocess = log.status === "FAILED" && log.deadLetter !== undefined;
    const attempts = [...log.attempts].sort((a, b) => a.n - b.n);
    return c.html(
      <Page title={`Log ${log.id}`} active="/console/logs" session={c.var.session}>
        <h1>
          {log.type} log <span class="muted">{log.id}</span>
        </h1>
        <div id="live" data-live>
          <table data-log-id={log.id} data-status={log.status}>
            <tbody>
              <tr>
                <th>Status</th>
                <td class={`status ${log.status}`}>{log.status}</td>
              </tr>
              <tr>
                <th>Reason</th>
                <td>{log.reason ?? ""}</td>
              </tr>
              <tr>
                <th>From</th>
                <td>{log.integrationId ?? log.sourceId ?? ""}</td>
              </tr>
              <tr>
                <th>Destination</th>
                <td>{log.destinationId ?? ""}</td>
              </tr>
              <tr>
                <th>Actor</th>
                <td>{log.actorId ?? ""}</td>
              </tr>
              <tr>
                <th>Data model / event</th>
                <td>{log.dataModel ?? ""} {log.eventType ?? ""}</td>
              </tr>
              <tr>
                <th>Control id (MSH-10)</th>
                <td>{log.controlId ?? ""}</td>
              </tr>
              <tr>
                <th>Created / updated</th>
                <td>{time(log.createdAt)} / {time(log.updatedAt)}</td>
              </tr>
              {log.deadLetter
                ? (
                  <tr>
                    <th>Dead letter</th>
                    <td>
                      by {log.deadLetter.by} at {time(log.deadLetter.at)}: {log.deadLetter.reason}
                    </td>
                  </tr>
                )
                : null}
              {log.reprocessed
                ? (
                  <tr>
                    <th>Reprocessed</th>
                    <td>
                      {log.reprocessed.count}× , last by {log.reprocessed.by} at{" "}
                      {time(log.reprocessed.at)}
                    </td>
                  </tr>
                )
                : null}
            </tbody>
          </table>
          {canReprocess
            ? (
              <form method="post" action={`${href("/console/logs", log.id)}/reprocess`}>
                <Csrf session={c.var.session} />
                <input name="reason" placeholder="why (optional)" size={40} maxlength={1000} />
                <button type="submit">Reprocess</button>
              </form>
            )
            : null}
          <h2>
            Attempts ({log.attemptCount}
            {log.attemptCount > attempts.length ? `, the latest ${attempts.length} shown` : ""})
          </h2>
          {attempts.length === 0
            ? <p class="muted">No attempt yet.</p>
            : (
              <ol class="timeline" id="attempts">
                {attempts.map((a) => (
                  <li data-outcome={a.outcome}>
                    {time(a.at)} <span class={`status ${a.outcome}`}>{a.outcome}</span>
                    {a.durationMs !== undefined ? ` in ${millis(a.durationMs)}` : ""}
                    {a.reason ? ` · ${a.reason}` : ""}
                  </li>
                ))}
              </ol>
            )}
          <h2>Related logs</h2>
          <table>
            <tbody>
              {related.map((r) => (
                <tr data-log-id={r.id} data-status={r.status}>
                  <td>
                    {r.id === log.id
                      ? <strong>{r.type}</strong>
                      : <a href={href("/console/logs", r.id)}>{r.type}</a>}
                  </td>
                  <td class={`status ${r.status}`}>{r.status}</td>
                  <td>{r.destinationId ?? r.integrationId ?? r.sourceId ?? ""}</td>
                  <td>{time(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h2>Message as received</h2>
        {message && bytes
          ? (
            <>
              <p class="muted">
                {message.contentType} · {message.size} bytes · received {time(message.receivedAt)}
                {message.fileName
                  ? (
                    <>
                      · file <code>{message.fileName}</code>
                    </>
                  )
                  : null}
                {message.origin.peer ? ` · from ${message.origin.peer}` : ""} ·{" "}
                <a href={`${href("/console/messages", message.id)}/raw`} download>download</a>
              </p>
              <Payload
                bytes={bytes}
                contentType={message.contentType}
                download={`${href("/console/messages", message.id)}/raw`}
              />
            </>
          )
          : <p class="muted">The message is no longer stored (retention).</p>}
        {deliveredId && deliveredId !== log.messageId
          ? (
            <section id="delivered" data-message-id={deliveredId}>
              <h2>Translation delivered</h2>
              {delivered && deliveredBytes
                ? (
                  <>
                    <p class="muted">
                      {delivered.contentType} · {delivered.size} bytes · message{" "}
                      <code>{delivered.id}</code> ·{" "}
                      <a href={`${href("/console/messages", delivered.id)}/raw`} download>
                        download
                      </a>
                    </p>
                    <Payload
                      bytes={deliveredBytes}
                      contentType={delivered.contentType}
                      download={`${href("/console/messages", delivered.id)}/raw`}
                    />
                  </>
                )
                : <p class="muted">The translation is no longer stored (retention).</p>}
            </section>
          )
          : null}
      </Page>,
    );
  });

  app.get("/console/messages/:id/raw", async (c) => {
    const message = await deps.store.getMessage(c.req.param("id").slice(0, MAX_ID));
    if (!message) return c.text("no such message", 404);
    const bytes = await deps.store.getPayload(message);
    const name = safeFileName(message.fileName ?? `${message.id}.bin`);
    // Always a download, never rendered: the content is the sender's, not ours.
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "application/octet-stream",
      "Content-Disposition": `attachment; filename="${name}"`,
      "Content-Security-Policy": "sandbox; default-src 'none'",
    });
  });

  app.post("/console/logs/:id/reprocess", requireRole("operator"), async (c) => {
    const id = c.req.param("id").slice(0, MAX_ID);
    const form = await readForm(c);
    if (!form) return c.text("refused: the form could not be read (not a valid form body)", 400);
    const reason = typeof form.reason === "string" ? form.reason.trim().slice(0, 1000) : "";
    const who = c.var.session.principal;
    const result = await deps.store.reprocess(id, who.name, reason);
    if (result.ok) deps.supervisor.notify(result.queue);
    const message = result.ok ? `back at the end of ${result.queue}` : result.error;
    await writeAudit(deps, who, {
      action: "reprocess",
      target: `log:${id}`,
      reason,
      address: peerIp(c),
      via: "console",
      ok: result.ok,
      message,
    });
    deps.log.info("console.reprocess", { log: id, by: who.name, ok: result.ok });
    return c.redirect(href("/console/logs", id), 303);
  });
}

/** An attempt's duration as people read it: `19 ms`, `3.7 ms`, `2.35 s` (not `19.0774459 ms`). */
function millis(ms: number): string {
  if (ms < 10) return `${Math.round(ms * 10) / 10} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${Math.round(ms / 10) / 100} s`;
}
