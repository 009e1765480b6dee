/** @jsxImportSource hono/jsx */
/**
 * The page frame every console page shares: navigation, who is signed in, sign-out, the CSRF
 * token for scripts, and the served script and stylesheet (no inline script or style).
 * @module
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { Child } from "hono/jsx";
import type { Session } from "./sessions.ts";

const NAV: readonly [string, string][] = [
  ["/console/connections", "Connections"],
  ["/console/logs", "Logs"],
  ["/console/actors", "Actors"],
  ["/console/destinations", "Destinations"],
  ["/console/alerts", "Alerts"],
  ["/console/upload", "Upload"],
  ["/console/metrics", "Metrics"],
  ["/console/audit", "Audit"],
  ["/console/users", "Users"],
];

/** htmx settings: no inline indicator styles, no eval (the CSP forbids both anyway). */
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
});

/** A whole page. `active` is the nav entry's path. */
export function Page(props: {
  title: string;
  active?: string;
  session?: Session;
  children?: Child;
  charts?: boolean;
}): JSX.Element {
  const s = props.session;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        {s ? <meta name="csrf-token" content={s.csrf} /> : null}
        <title>{props.title} · engine console</title>
        <link rel="stylesheet" href="/console/static/console.css" />
        {props.charts ? <link rel="stylesheet" href="/console/static/uPlot.min.css" /> : null}
        <script src="/console/static/htmx.min.js" defer></script>
        {props.charts ? <script src="/console/static/uPlot.iife.min.js" defer></script> : null}
        <script src="/console/static/console.js" defer></script>
      </head>
      <body>
        {s
          ? (
            <header>
              <strong>engine</strong>
              <nav>
                {NAV.map(([href, label]) => (
                  <a href={href} aria-current={props.active === href ? "page" : undefined}>
                    {label}
                  </a>
                ))}
              </nav>
              <span class="who">
                {s.principal.name} ({s.principal.role})
              </span>
              <PostButton session={s} action="/console/logout" label="Sign out" />
            </header>
          )
          : null}
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** The hidden CSRF field every state-changing form carries. */
export function Csrf(props: { session: Session }): JSX.Element {
  return <input type="hidden" name="_csrf" value={props.session.csrf} />;
}

/** A one-button form that POSTs to `action` with the session's CSRF token. */
export function PostButton(
  props: { session: Session; action: string; label: string },
): JSX.Element {
  return (
    <form method="post" action={props.action} class="inline">
      <Csrf session={props.session} />
      <button type="submit">{props.label}</button>
    </form>
  );
}

/** A time as `2026-01-15 08:30:00Z` (UTC), or a dash. */
export function time(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "–";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A duration in words (`3 s`, `4 min`, `2 h`). */
export function age(ms: number | undefined): string {
  if (ms === undefined) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** A link to a console path with one path segment encoded. */
export function href(base: string, id: string): string {
  return `${base}/${encodeURIComponent(id)}`;
}
