/** @jsxImportSource hono/jsx */
// deno-lint-ignore-file jsx-key -- server-rendered once, never diffed: keys serve nothing
/**
 * `/console/logs`: every log, newest first, with filters, a search by MSH-10 control id, message
 * id or log id, a search by patient identifier (PID-3, a bounded scan: see `patient_search.ts`),
 * and cursor pagination. Each row carries `data-log-id` and `data-status`.
 * @module
 */

import type { Hono } from "hono";
import type { LogFilter, LogRecord, PayloadSearchPage } from "../../../actors/ports.ts";
import { LOG_STATUSES, LOG_TYPES, parseLogFilter } from "../params.ts";
import { PATIENT_PARAM, searchByPatient, splitPatientQuery } from "../patient_search.ts";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { href, Page, time } from "./layout.tsx";

const PAGE = 50;
const FILTER_NAMES = [
  "status",
  "type",
  "dataModel",
  "eventType",
  "integration",
  "destination",
  "since",
  "until",
  "cursor",
] as const;

/** Logs matching a search text: a log id, a message id, or an MSH-10 control id. */
async function search(deps: ConsoleDeps, q: string): Promise<{ logs: LogRecord[]; next?: string }> {
  const log = await deps.store.getLog(q);
  if (log) return { logs: [log] };
  const ofMessage = await deps.store.logsOfMessage(q);
  if (ofMessage.length > 0) return { logs: ofMessage.reverse() };
  // Within the dedupe window, an MSH-10 leads straight to its message; otherwise a bounded scan.
  const scopes = deps.config.integrations.map((i) => i.id);
  const ids = await deps.state.messageByControlId(scopes, q);
  const found: LogRecord[] = [];
  for (const id of ids) found.push(...(await deps.store.logsOfMessage(id)).reverse());
  if (found.length > 0) return { logs: found };
  const page = await deps.store.listLogs({ controlId: q, limit: PAGE });
  return page;
}

/**
 * Why a log stands where it does: its reason, else (a PENDING delivery being retried) the last
 * failed attempt's, marked as such, so a list of waiting messages says why they wait.
 */
function reasonOf(l: LogRecord): string {
  if (l.reason) return l.reason;
  const last = l.attempts.at(-1);
  return l.status === "PENDING" && last?.outcome === "FAILED" && last.reason
    ? `retrying: ${last.reason}`
    : "";
}

function Row(props: { log: LogRecord }) {
  const l = props.log;
  return (
    <tr data-log-id={l.id} data-status={l.status}>
      <td>
        <a href={href("/console/logs", l.id)}>{time(l.createdAt)}</a>
      </td>
      <td>{l.type}</td>
      <td class={`status ${l.status}`}>{l.status}</td>
      <td>{l.integrationId ?? l.sourceId ?? ""}</td>
      <td>{l.destinationId ?? ""}</td>
      <td>{l.dataModel ?? ""}</td>
      <td>{l.eventType ?? ""}</td>
      <td>{l.controlId ? l.controlId.slice(0, 60) : ""}</td>
      <td class="num">{l.attemptCount}</td>
      <td class="muted">{reasonOf(l).slice(0, 120)}</td>
    </tr>
  );
}

/** Adds `/console/logs`. */
export function logRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get("/console/logs", async (c) => {
    const url = new URL(c.req.url);
    const params = new URLSearchParams();
    for (const name of FILTER_NAMES) {
      const v = url.searchParams.get(name);
      if (v) params.set(name, v);
    }
    const q = (url.searchParams.get("q") ?? "").trim().slice(0, 200);
    // Every value given, so that a repeated one is refused as /admin/logs refuses it.
    const patients = url.searchParams.getAll(PATIENT_PARAM).filter((v) => v.trim() !== "");
    for (const v of patients) params.append(PATIENT_PARAM, v.trim());
    const patientRaw = patients[0] ?? "";
    const split = splitPatientQuery(params);
    const parsed = split.ok ? parseLogFilter(split.value.rest) : split;
    let error: string | undefined;
    let page: { logs: LogRecord[]; next?: string } = { logs: [] };
    let scan: PayloadSearchPage | undefined;
    if (!parsed.ok) error = parsed.error;
    else if (split.ok && split.value.patient) {
      if (q) error = "Search either by text or by patient, not both";
      else page = scan = await searchByPatient(deps.store, split.value.patient, parsed.value);
    } else if (q) page = await search(deps, q);
    else page = await deps.store.listLogs({ ...parsed.value, limit: PAGE } as LogFilter);
    const value = (n: string) => url.searchParams.get(n) ?? "";
    const nextUrl = page.next
      ? (() => {
        const p = new URLSearchParams(params);
        p.set("cursor", page.next!);
        if (q) p.set("q", q);
        return `/console/logs?${p}`;
      })()
      : undefined;
    const Select = (props: { name: string; options: readonly string[] }) => (
      <select name={props.name}>
        <option value="">any</option>
        {props.options.map((o) => <option selected={value(props.name) === o}>{o}</option>)}
      </select>
    );
    return c.html(
      <Page title="Logs" active="/console/logs" session={c.var.session}>
        <h1>Logs</h1>
        <form class="filters" method="get" action="/console/logs">
          <label>
            Search <input name="q" value={q} placeholder="MSH-10, message id or log id" size={30} />
          </label>
          <label>
            Patient{" "}
            <input
              name={PATIENT_PARAM}
              value={patientRaw}
              placeholder="PID-3 id or ID^^^AUTHORITY"
              size={24}
            />
          </label>
          <label>
            Status <Select name="status" options={LOG_STATUSES} />
          </label>
          <label>
            Type <Select name="type" options={LOG_TYPES} />
          </label>
          <label>
            Data model <input name="dataModel" value={value("dataModel")} size={10} />
          </label>
          <label>
            Event type <input name="eventType" value={value("eventType")} size={8} />
          </label>
          <label>
            Integration{" "}
            <Select name="integration" options={deps.config.integrations.map((i) => i.id)} />
          </label>
          <label>
            Destination{" "}
            <Select name="destination" options={deps.config.destinations.map((d) => d.id)} />
          </label>
          <label>
            Since <input name="since" value={value("since")} placeholder="2026-01-15" size={12} />
          </label>
          <label>
            Until <input name="until" value={value("until")} size={12} />
          </label>
          <button type="submit">Filter</button> <a href="/console/logs">clear</a>
        </form>
        {error ? <p class="error" role="alert">{error}</p> : null}
        {scan
          ? (
            <p class="muted" data-patient-scan={scan.cut ?? "done"}>
              Messages about patient <strong>{patientRaw.trim()}</strong>: {scan.next ? "≥ " : ""}
              {scan.logs.length} found in {scan.scanned} logs scanned
              {scan.cut
                ? ` (stopped at the search bound of ${
                  scan.cut === "logs" ? "logs" : "message bytes"
                } read; "Older" continues)`
                : ""}
              {scan.unreadable > 0
                ? ` (${scan.unreadable} message(s) could not be read and were skipped)`
                : ""}
            </p>
          )
          : null}
        {/* A patient search is a snapshot: a scan per live refresh would cost too much. */}
        <div id="live" {...(scan ? {} : { "data-live": true })}>
          <table>
            <thead>
              <tr>
                <th>Created</th>
                <th>Type</th>
                <th>Status</th>
                <th>From</th>
                <th>Destination</th>
                <th>Data model</th>
                <th>Event</th>
                <th>Control id</th>
                <th class="num">Attempts</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>{page.logs.map((l) => <Row log={l} />)}</tbody>
          </table>
          {page.logs.length === 0 && !error ? <p class="muted">No log matches.</p> : null}
          {nextUrl
            ? (
              <p>
                <a href={nextUrl} rel="next">Older →</a>
              </p>
            )
            : null}
        </div>
      </Page>,
    );
  });
}
