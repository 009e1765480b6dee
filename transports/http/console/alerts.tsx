/** @jsxImportSource hono/jsx */
// deno-lint-ignore-file jsx-key -- server-rendered once, never diffed: keys serve nothing
/**
 * `/console/alerts` (every signed-in role, read only): the alerts firing now — rule and kind,
 * subject, summary, since when and for how long, last notified, and each channel's delivery of
 * the latest notification about it — then the resolved alerts, newest first (when each fired and
 * resolved, and its channels), a bounded number per page with an "Older" link, and the rules in
 * force with their parameters and channels. The same records as `GET /admin/alerts` and
 * `GET /admin/alerts/history`. Summaries carry peers' text (errors, pause reasons): always
 * rendered as text.
 * @module
 */

import type { Hono } from "hono";
import type {
  AlertNotification,
  AlertRule,
  AlertState,
  ChannelDelivery,
} from "../../../actors/ports.ts";
import type { ConsoleAlerts, ConsoleDeps, ConsoleEnv } from "./context.ts";
import { age, Page, time } from "./layout.tsx";

/** Resolved alerts listed per page of the history. */
export const RESOLVED_PER_PAGE = 50;
/** Notifications read at most for one page of the history (the resolved ones are listed). */
export const HISTORY_SCAN = 1000;
/** Newest notifications searched for the deliveries of the alerts firing. */
export const FIRING_SCAN = 500;
/** Longest text shown of a summary or an error (the rest is in the admin API). */
const TEXT_MAX = 2000;

/** Kinds whose subject is an actor id (shown on `/console/actors`). */
const ACTOR_KINDS = new Set(["queue", "actor-stalled"]);

const keyOf = (a: { rule: string; subject: string }) => `${a.rule}\u0000${a.subject}`;

/** Adds the alerts page. */
export function alertRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get("/console/alerts", async (c) => {
    const session = c.var.session;
    const alerts = deps.alerts;
    if (!alerts) {
      return c.html(
        <Page title="Alerts" active="/console/alerts" session={session}>
          <h1>Alerts</h1>
          <p class="muted">This engine's console has no alert monitor to read.</p>
        </Page>,
      );
    }
    const before = c.req.query("before")?.slice(0, 64) || undefined;
    const [firing, latest, resolved, set] = await Promise.all([
      alerts.firing(),
      latestNotifications(alerts),
      resolvedPage(alerts, before),
      alerts.ruleSet(),
    ]);
    const settings = alerts.settings();
    const now = deps.now();
    const allChannels = settings.channels.map((ch) => ch.id);
    const ruleIds = new Set(set.rules.map((r) => r.id));
    firing.sort((a, b) => a.since - b.since || keyOf(a).localeCompare(keyOf(b)));
    return c.html(
      <Page title="Alerts" active="/console/alerts" session={session}>
        <h1>Alerts</h1>
        <p class="muted">
          Rules are evaluated every {settings.evaluateEverySeconds}{" "}
          s by one engine process on the KV. As JSON: <code>GET /admin/alerts</code>,{" "}
          <code>GET /admin/alerts/history</code>.
        </p>
        <div id="live" data-live>
          <h2>Firing ({firing.length})</h2>
          {firing.length === 0
            ? <p class="muted" id="none-firing">Nothing is firing.</p>
            : (
              <table id="firing">
                <thead>
                  <tr>
                    <th>Rule</th>
                    <th>Subject</th>
                    <th>Summary</th>
                    <th>Since</th>
                    <th>For</th>
                    <th>Last notified</th>
                    <th>Channels</th>
                  </tr>
                </thead>
                <tbody>
                  {firing.map((a) => (
                    <FiringRow
                      alert={a}
                      now={now}
                      latest={latest.get(keyOf(a))}
                      ruleKnown={ruleIds.has(a.rule)}
                    />
                  ))}
                </tbody>
              </table>
            )}

          <h2>Resolved</h2>
          <p class="muted">
            Newest first, {RESOLVED_PER_PAGE} a page (from at most {HISTORY_SCAN}{" "}
            notifications read a page).
          </p>
          {resolved.notifications.length === 0
            ? <p class="muted" id="none-resolved">No resolved alerts{before ? " here" : ""}.</p>
            : (
              <table id="resolved">
                <thead>
                  <tr>
                    <th>Rule</th>
                    <th>Subject</th>
                    <th>Summary</th>
                    <th>Fired</th>
                    <th>Resolved</th>
                    <th>Lasted</th>
                    <th>Channels</th>
                  </tr>
                </thead>
                <tbody>
                  {resolved.notifications.map((n) => (
                    <tr
                      data-notification-id={n.id}
                      data-alert-rule={n.rule}
                      data-alert-subject={n.subject}
                    >
                      <td>
                        {n.rule} <span class="muted">({n.kind})</span>
                      </td>
                      <td>
                        <Subject kind={n.kind} subject={n.subject} />
                      </td>
                      <td>{n.summary.slice(0, TEXT_MAX)}</td>
                      <td>{time(n.since)}</td>
                      <td>{time(n.at)}</td>
                      <td>{age(Math.max(0, n.at - n.since))}</td>
                      <td>
                        <Deliveries deliveries={n.deliveries} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          {resolved.next
            ? (
              <p>
                <a href={`/console/alerts?before=${encodeURIComponent(resolved.next)}`}>
                  Older →
                </a>
              </p>
            )
            : null}
        </div>

        <h2>
          Rules ({set.source === "admin" ? "set through PUT /admin/alerts" : "from the config"})
        </h2>
        {set.storedRulesProblems
          ? (
            <div class="error" role="alert" id="stored-rules-problems">
              Rules stored through the admin API are not used (the config's apply):
              <ul>
                {set.storedRulesProblems.map((p) => <li>{p.path}: {p.message}</li>)}
              </ul>
            </div>
          )
          : null}
        {set.rules.length === 0 ? <p class="muted" id="no-rules">No rules.</p> : (
          <table id="rules">
            <thead>
              <tr>
                <th>Rule</th>
                <th>Kind</th>
                <th>Parameters</th>
                <th>Reminders</th>
                <th>Channels</th>
              </tr>
            </thead>
            <tbody>
              {set.rules.map((r) => (
                <tr data-rule-id={r.id} data-kind={r.kind}>
                  <td>{r.id}</td>
                  <td>{r.kind}</td>
                  <td>{parameters(r)}</td>
                  <td>
                    {r.remindEverySeconds !== undefined
                      ? `every ${r.remindEverySeconds} s`
                      : "none"}
                  </td>
                  <td>
                    {r.channels
                      ? r.channels.join(", ")
                      : `all (${allChannels.length ? allChannels.join(", ") : "none configured"})`}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p class="muted">
          Channels:{" "}
          {settings.channels.length
            ? settings.channels.map((ch) => `${ch.id} (${ch.type})`).join(", ")
            : "none configured"}
        </p>
      </Page>,
    );
  });
}

/** One firing alert's row. */
function FiringRow(
  props: {
    alert: AlertState;
    now: number;
    latest: AlertNotification | undefined;
    ruleKnown: boolean;
  },
) {
  const a = props.alert;
  return (
    <tr data-alert-rule={a.rule} data-alert-subject={a.subject} data-kind={a.kind}>
      <td>
        {a.rule} <span class="muted">({a.kind})</span>
        {props.ruleKnown
          ? null
          : <div class="muted">rule removed: resolves at the next evaluation</div>}
      </td>
      <td>
        <Subject kind={a.kind} subject={a.subject} />
      </td>
      <td>{a.summary.slice(0, TEXT_MAX)}</td>
      <td>{time(a.since)}</td>
      <td>{age(Math.max(0, props.now - a.since))}</td>
      <td>
        {time(a.lastNotifiedAt)}
        {a.reminders ? <span class="muted">{` (${a.reminders} reminders)`}</span> : null}
      </td>
      <td>
        {props.latest
          ? (
            <>
              <span class="muted">{props.latest.event}:</span>
              <Deliveries deliveries={props.latest.deliveries} />
            </>
          )
          : (
            <span class="muted">
              not among the newest {FIRING_SCAN} notifications
            </span>
          )}
      </td>
    </tr>
  );
}

/** A subject; an actor's links to the actors page. */
function Subject(props: { kind: string; subject: string }) {
  return ACTOR_KINDS.has(props.kind)
    ? <a href="/console/actors" data-actor-id={props.subject}>{props.subject}</a>
    : <>{props.subject}</>;
}

/** Each channel's delivery of a notification: status, attempts, when sent, the last error. */
function Deliveries(props: { deliveries: ChannelDelivery[] }) {
  if (props.deliveries.length === 0) return <span class="muted">no channel</span>;
  return (
    <ul class="deliveries">
      {props.deliveries.map((d) => (
        <li data-channel={d.channel} data-delivery={d.status}>
          {d.channel}: {d.status}, {d.attempts} {d.attempts === 1 ? "attempt" : "attempts"}
          {d.status === "sent" && d.sentAt !== undefined ? ` at ${time(d.sentAt)}` : ""}
          {d.status === "pending" && d.attempts > 0 ? ` · next try ${time(d.nextAt)}` : ""}
          {d.lastError ? <div class="error">{d.lastError.slice(0, TEXT_MAX)}</div> : null}
        </li>
      ))}
    </ul>
  );
}

/** A rule's own parameters as `name: value` (its id, kind, channels and reminders aside). */
function parameters(rule: AlertRule): string {
  const skip = new Set(["id", "kind", "channels", "remindEverySeconds"]);
  const parts = Object.entries(rule)
    .filter(([k, v]) => !skip.has(k) && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  return parts.length ? parts.join(", ") : "–";
}

/** The newest notification (not a resolution) about each alert, from the newest few. */
async function latestNotifications(
  alerts: ConsoleAlerts,
): Promise<Map<string, AlertNotification>> {
  const out = new Map<string, AlertNotification>();
  const page = await alerts.history({ limit: FIRING_SCAN });
  for (const n of page.notifications) {
    if (n.event !== "resolved" && !out.has(keyOf(n))) out.set(keyOf(n), n);
  }
  return out;
}

/**
 * One page of resolved alerts, newest first, read from at most {@link HISTORY_SCAN}
 * notifications before `before`; `next` continues after the last one read.
 */
async function resolvedPage(
  alerts: ConsoleAlerts,
  before: string | undefined,
): Promise<{ notifications: AlertNotification[]; next?: string }> {
  const notifications: AlertNotification[] = [];
  let cursor = before;
  let scanned = 0;
  while (scanned < HISTORY_SCAN) {
    const limit = Math.min(500, HISTORY_SCAN - scanned);
    const page = await alerts.history({ limit, ...(cursor ? { before: cursor } : {}) });
    scanned += page.notifications.length;
    for (const [i, n] of page.notifications.entries()) {
      if (n.event !== "resolved") continue;
      notifications.push(n);
      if (notifications.length === RESOLVED_PER_PAGE) {
        const more = i < page.notifications.length - 1 || page.next !== undefined;
        return more ? { notifications, next: n.id } : { notifications };
      }
    }
    if (!page.next) return { notifications };
    cursor = page.next;
  }
  return cursor ? { notifications, next: cursor } : { notifications };
}
