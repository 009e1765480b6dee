/**
 * `main.ts status`: what is stuck in a running engine, from its admin API, for an operator on
 * call. Each stuck actor (paused, backing off, retrying a head that already failed, a queue whose
 * oldest message is older than a threshold, an unreadable head, dead letters) gets one block: the
 * destinations it delivers to, its state and since when, what waits, the last error as the peer
 * gave it, the next retry and the commands to act; then the firing alerts, `/healthz`'s failing
 * checks and a one-line summary. Everything that came from the engine or a peer is printed
 * through {@link terminalSafe}.
 *
 * Reads `GET /admin/actors` (required), `GET /admin/destinations`, `GET /admin/alerts`,
 * `GET /admin/actors/:id/dead-letters`, `GET /admin/logs/:id` (a failing head's first attempt)
 * and `GET /healthz`; the optional ones are skipped when the engine has no such route.
 * @module
 */

import { actorPath, AdminClient, AdminUnreachable, terminalSafe } from "./admin_client.ts";

/** Exit codes of `status`: nothing stuck, something stuck, the engine could not be asked. */
export const STATUS_EXIT = { ok: 0, stuck: 1, unreachable: 2 } as const;

/** What `status` is asked. */
export interface StatusOptions {
  /** Oldest-message age (s) past which a queue counts as stuck. */
  maxAgeSeconds: number;
  /** The token's option in the commands printed (` --token-file F`, or ""), never its value. */
  tokenArgs: string;
}

/** One actor as `status` reports it (JSON output: these fields, times ISO 8601 UTC). */
export interface ActorReport {
  id: string;
  kind: string;
  state: string;
  stuck: boolean;
  /** Why it counts as stuck, in words (`backing off`, `oldest message 75 s old > 60 s`…). */
  reasons: string[];
  /** Destinations it delivers to: id and where. */
  destinations: { id: string; url: string | null }[];
  /** Since when it is in this state, and what that time is. */
  since?: { at: string; what: string };
  queueDepth: number;
  oldestAgeSeconds?: number;
  inFlight?: { messageId: string; logId: string; attempts: number; since?: string };
  lastError?: string;
  nextRetryAt?: string;
  paused?: { by?: string; reason?: string; at?: string };
  /** Dead letters (capped at {@link DEAD_LETTER_LIMIT}); undefined when not read. */
  deadLetters?: number;
  unreadableHead?: { seq: string; reason: string };
  socket?: string;
  /** The calls to act on it, with the token left as a placeholder. */
  actions: string[];
}

/** A queue that no running node serves (`unserved` of `GET /admin/actors`). */
export interface UnservedReport {
  actor: string;
  queued: number;
  since?: string;
  reason?: string;
  hint?: string;
}

/** A firing alert (`firing` of `GET /admin/alerts`). */
export interface AlertReport {
  rule: string;
  kind: string;
  subject: string;
  since: string;
  summary: string;
}

/** Everything `status` found. */
export interface StatusReport {
  url: string;
  /** The engine's time when it listed its actors. */
  at: string;
  maxAgeSeconds: number;
  health: { status: string; failing: { name: string; reason: string }[] } | { error: string };
  actors: ActorReport[];
  unserved: UnservedReport[];
  /** Undefined when the engine has no alerts route. */
  alerts?: AlertReport[];
  /** Actors whose dead letters were not read (over the cap of requests). */
  deadLettersNotChecked: number;
  stuck: number;
  summary: string;
}

/** At most this many dead letters are counted per actor (shown as `≥`). */
export const DEAD_LETTER_LIMIT = 500;
/** Dead letters are read for at most this many actors (one request each). */
const MAX_DEAD_LETTER_REQUESTS = 200;
/** Requests under way at once. */
const CONCURRENCY = 8;
/** A last error or summary longer than this is cut (a peer's whole answer body). */
const MAX_TEXT = 500;

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => typeof v === "string" ? v : undefined;
const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : undefined;
const obj = (v: unknown): Json | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? v as Json : undefined;

/** `text` terminal-safe and at most {@link MAX_TEXT} characters. */
function clean(text: string): string {
  const safe = terminalSafe(text);
  return safe.length > MAX_TEXT ? `${safe.slice(0, MAX_TEXT)}… (${safe.length} characters)` : safe;
}

/** Runs `work` over `items`, {@link CONCURRENCY} at a time. */
async function pool<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return out;
}

/**
 * The actor a destination of `GET /admin/destinations` is delivered by, as
 * actors/engine/identities.ts names it (MLLP destinations at one host:port share one).
 */
function actorOfDestinationView(d: Json): string | undefined {
  const id = str(d.id);
  const type = str(d.type);
  if (!id || !type) return undefined;
  if (type === "mllp") {
    const m = /^mllps?:\/\/(.+)$/.exec(str(d.url) ?? "");
    return m ? `mllp-out:${m[1]}` : undefined;
  }
  if (type === "https") return `https:${id}`;
  if (type === "forward") return `forward:${id}`;
  if (type === "sftp") return `sftp-out:${id}`;
  return undefined;
}

/** Whole seconds between two ISO times (`later - earlier`), undefined if either is missing. */
function secondsBetween(
  later: string | undefined,
  earlier: string | undefined,
): number | undefined {
  if (!later || !earlier) return undefined;
  const d = Date.parse(later) - Date.parse(earlier);
  return Number.isFinite(d) ? Math.round(d / 1000) : undefined;
}

/** `57 s`, `12 min 3 s`, `2 h 5 min`, `3 d 4 h`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** The commands to act on an actor (the token named by `tokenArgs`, never its value). */
function actionsFor(url: string, a: Pick<ActorReport, "id" | "state">, tokenArgs: string) {
  const cli = (command: string) =>
    `main.ts actor ${url} ${a.id} ${command} --reason "…"${tokenArgs}`;
  return [
    cli("retry"),
    a.state === "paused" ? cli("resume") : cli("pause"),
    `${cli("skip")}   (moves the head to the dead letters)`,
    `API: POST ${url}/admin/actors/${actorPath(a.id)}/{pause,resume,retry,skip}, ` +
    `GET …/dead-letters`,
    `console: ${url}/console/actors`,
  ];
}

/** Gathers the report. Throws {@link AdminUnreachable} when `GET /admin/actors` cannot be had. */
export async function gatherStatus(
  client: AdminClient,
  options: StatusOptions,
): Promise<StatusReport> {
  const listing = await client.request("GET", "/admin/actors");
  if (listing.status !== 200 || !obj(listing.body)) {
    throw new AdminUnreachable(
      `the engine at ${client.url} answered GET /admin/actors with HTTP ${listing.status}` +
        (str(obj(listing.body)?.error) ? `: ${clean(str(obj(listing.body)?.error)!)}` : ""),
    );
  }
  const body = obj(listing.body)!;
  const at = str(body.at) ?? new Date().toISOString();
  const statuses = (Array.isArray(body.actors) ? body.actors : []).map(obj).filter((a) =>
    a !== undefined
  ) as Json[];

  const [destinations, alerts, health] = await Promise.all([
    readDestinations(client),
    readAlerts(client),
    readHealth(client),
  ]);

  const checked = statuses.slice(0, MAX_DEAD_LETTER_REQUESTS);
  const deadLetters = await pool(checked, (s) => countDeadLetters(client, str(s.id) ?? ""));

  const actors: ActorReport[] = [];
  for (const [i, s] of statuses.entries()) {
    actors.push(
      await actorReport(client, s, {
        at,
        destinations: destinations.get(str(s.id) ?? "") ?? [],
        deadLetters: deadLetters[i],
        options,
      }),
    );
  }
  const unserved = (Array.isArray(body.unserved) ? body.unserved : []).map(obj).filter((u) =>
    u !== undefined
  ).map((u) => ({
    actor: clean(str(u!.actor) ?? "?"),
    queued: num(u!.queued) ?? 0,
    ...(str(u!.since) ? { since: clean(str(u!.since)!) } : {}),
    ...(str(u!.reason) ? { reason: clean(str(u!.reason)!) } : {}),
    ...(str(u!.hint) ? { hint: clean(str(u!.hint)!) } : {}),
  }));
  const stuckActors = actors.filter((a) => a.stuck);
  const failingHealth = "failing" in health ? health.failing.length : 0;
  const stuck = stuckActors.length + unserved.length;
  const report: StatusReport = {
    url: client.url,
    at,
    maxAgeSeconds: options.maxAgeSeconds,
    health,
    actors,
    unserved,
    ...(alerts ? { alerts } : {}),
    deadLettersNotChecked: statuses.length - checked.length,
    stuck: stuck + failingHealth,
    summary: "",
  };
  report.summary = summaryLine(report, stuckActors);
  return report;
}

async function actorReport(
  client: AdminClient,
  s: Json,
  context: {
    at: string;
    destinations: { id: string; url: string | null }[];
    deadLetters: number | undefined;
    options: StatusOptions;
  },
): Promise<ActorReport> {
  const id = str(s.id) ?? "?";
  const state = str(s.state) ?? "?";
  const queueDepth = num(s.queueDepth) ?? 0;
  const oldestMs = num(s.oldestAgeMs);
  const inFlightRaw = obj(s.inFlight);
  const inFlight = inFlightRaw
    ? {
      messageId: clean(str(inFlightRaw.messageId) ?? ""),
      logId: clean(str(inFlightRaw.logId) ?? ""),
      attempts: num(inFlightRaw.attempts) ?? 0,
      ...(str(inFlightRaw.since) ? { since: clean(str(inFlightRaw.since)!) } : {}),
    }
    : undefined;
  const pausedRaw = obj(s.paused);
  const paused = pausedRaw
    ? {
      ...(str(pausedRaw.by) ? { by: clean(str(pausedRaw.by)!) } : {}),
      ...(str(pausedRaw.reason) ? { reason: clean(str(pausedRaw.reason)!) } : {}),
      ...(str(pausedRaw.at) ? { at: clean(str(pausedRaw.at)!) } : {}),
    }
    : undefined;
  const headRaw = obj(s.unreadableHead);
  const unreadableHead = headRaw
    ? { seq: clean(str(headRaw.seq) ?? ""), reason: clean(str(headRaw.reason) ?? "") }
    : undefined;
  const max = context.options.maxAgeSeconds;
  const reasons: string[] = [];
  if (state === "paused") reasons.push("paused");
  else if (paused) reasons.push("pausing (once the attempt under way ends)");
  else if (state === "backoff") reasons.push("backing off");
  else if (inFlight && inFlight.attempts > 0) {
    reasons.push(`retrying a head that failed ${inFlight.attempts} time(s)`);
  }
  if (oldestMs !== undefined && oldestMs > max * 1000) {
    reasons.push(`oldest message ${duration(oldestMs / 1000)} old > ${max} s`);
  }
  if (unreadableHead) reasons.push("unreadable head");
  if (context.deadLetters) {
    const n = context.deadLetters >= DEAD_LETTER_LIMIT
      ? `≥${DEAD_LETTER_LIMIT}`
      : context.deadLetters;
    reasons.push(`${n} dead letter(s)`);
  }
  const stuck = reasons.length > 0;
  const report: ActorReport = {
    id: clean(id),
    kind: clean(str(s.kind) ?? "?"),
    state: clean(state),
    stuck,
    reasons,
    destinations: context.destinations,
    queueDepth,
    ...(oldestMs !== undefined ? { oldestAgeSeconds: Math.round(oldestMs / 1000) } : {}),
    ...(inFlight ? { inFlight } : {}),
    ...(str(s.lastError) ? { lastError: clean(str(s.lastError)!) } : {}),
    ...(str(s.nextRetryAt) ? { nextRetryAt: clean(str(s.nextRetryAt)!) } : {}),
    ...(paused ? { paused } : {}),
    ...(context.deadLetters !== undefined ? { deadLetters: context.deadLetters } : {}),
    ...(unreadableHead ? { unreadableHead } : {}),
    ...(str(s.socket) ? { socket: clean(str(s.socket)!) } : {}),
    actions: [],
  };
  if (!stuck) return report;
  report.actions = actionsFor(
    client.url,
    { id, state: paused ? "paused" : state },
    context.options.tokenArgs,
  ).map(clean);
  const since = await sinceOf(client, report, context.at, oldestMs);
  if (since) report.since = since;
  return report;
}

/**
 * Since when: the pause's time; else the failing head's first attempt (`GET /admin/logs/:id`);
 * else when the oldest message was queued.
 */
async function sinceOf(
  client: AdminClient,
  a: ActorReport,
  at: string,
  oldestMs: number | undefined,
): Promise<{ at: string; what: string } | undefined> {
  if (a.paused?.at) return { at: a.paused.at, what: "paused" };
  if (a.inFlight?.logId && a.inFlight.attempts > 0) {
    try {
      const answer = await client.request("GET", `/admin/logs/${actorPath(a.inFlight.logId)}`);
      const attempts = obj(answer.body)?.attempts;
      const first = Array.isArray(attempts) ? obj(attempts[0]) : undefined;
      const firstAt = first ? str(first.at) : undefined;
      if (answer.status === 200 && firstAt) {
        const n = num(first!.n) ?? 1;
        return {
          at: clean(firstAt),
          what: n === 1
            ? "first failed attempt of the head"
            : `attempt ${n} of the head (the earliest kept)`,
        };
      }
    } catch (error) {
      if (!(error instanceof AdminUnreachable)) throw error;
    }
  }
  if (oldestMs !== undefined) {
    const t = Date.parse(at) - oldestMs;
    if (Number.isFinite(t)) return { at: new Date(t).toISOString(), what: "oldest message queued" };
  }
  return undefined;
}

async function countDeadLetters(client: AdminClient, id: string): Promise<number | undefined> {
  try {
    const answer = await client.request(
      "GET",
      `/admin/actors/${actorPath(id)}/dead-letters?limit=${DEAD_LETTER_LIMIT}`,
    );
    const list = obj(answer.body)?.deadLetters;
    return answer.status === 200 && Array.isArray(list) ? list.length : undefined;
  } catch (error) {
    if (error instanceof AdminUnreachable) return undefined;
    throw error;
  }
}

/** Destinations by the actor that delivers them; empty when the route is absent. */
async function readDestinations(
  client: AdminClient,
): Promise<Map<string, { id: string; url: string | null }[]>> {
  const byActor = new Map<string, { id: string; url: string | null }[]>();
  const answer = await client.request("GET", "/admin/destinations");
  const list = obj(answer.body)?.destinations;
  if (answer.status !== 200 || !Array.isArray(list)) return byActor;
  for (const d of list.map(obj)) {
    if (!d) continue;
    const actor = actorOfDestinationView(d);
    if (!actor) continue;
    const entry = { id: clean(str(d.id) ?? "?"), url: str(d.url) ? clean(str(d.url)!) : null };
    byActor.set(actor, [...(byActor.get(actor) ?? []), entry]);
  }
  return byActor;
}

/** The firing alerts; undefined when the engine has no alerts route. */
async function readAlerts(client: AdminClient): Promise<AlertReport[] | undefined> {
  const answer = await client.request("GET", "/admin/alerts");
  const firing = obj(answer.body)?.firing;
  if (answer.status !== 200 || !Array.isArray(firing)) return undefined;
  return firing.map(obj).filter((f) => f !== undefined).map((f) => ({
    rule: clean(str(f!.rule) ?? "?"),
    kind: clean(str(f!.kind) ?? "?"),
    subject: clean(str(f!.subject) ?? "?"),
    since: clean(str(f!.since) ?? "?"),
    summary: clean(str(f!.summary) ?? ""),
  }));
}

/** `/healthz`: its status and failing checks, or why it could not be read. */
async function readHealth(client: AdminClient): Promise<StatusReport["health"]> {
  try {
    const answer = await client.unauthenticated("/healthz");
    const body = obj(answer.body);
    if (!body) return { error: `/healthz answered HTTP ${answer.status} without JSON` };
    const checks = Array.isArray(body.checks) ? body.checks.map(obj) : [];
    return {
      status: clean(str(body.status) ?? String(answer.status)),
      failing: checks.filter((c) => c && c.ok === false).map((c) => ({
        name: clean(str(c!.name) ?? "?"),
        reason: clean(str(c!.reason) ?? ""),
      })),
    };
  } catch (error) {
    if (error instanceof AdminUnreachable) return { error: error.message };
    throw error;
  }
}

function summaryLine(report: StatusReport, stuckActors: ActorReport[]): string {
  const waiting = report.actors.reduce((n, a) => n + a.queueDepth, 0);
  const count = (word: string) =>
    stuckActors.filter((a) => a.reasons.some((r) => r.startsWith(word))).length;
  const parts = [
    stuckActors.length === 0 && report.unserved.length === 0
      ? `nothing stuck: ${report.actors.length} actors`
      : `${stuckActors.length} of ${report.actors.length} actors stuck`,
  ];
  if (stuckActors.length > 0) {
    const kinds = [
      [count("paus"), "paused"],
      [count("backing off"), "backing off"],
      [count("retrying"), "retrying"],
      [count("oldest message"), "old queue"],
      [stuckActors.filter((a) => a.deadLetters).length, "with dead letters"],
    ].filter(([n]) => (n as number) > 0).map(([n, w]) => `${n} ${w}`);
    parts[0] += ` (${kinds.join(", ")})`;
  }
  if (report.unserved.length > 0) parts.push(`${report.unserved.length} queue(s) unserved`);
  parts.push(`${waiting} message(s) waiting`);
  parts.push(report.alerts ? `${report.alerts.length} alert(s) firing` : "alerts not readable");
  parts.push(
    "error" in report.health
      ? "health unknown"
      : report.health.failing.length > 0
      ? `health ${report.health.status} (${report.health.failing.map((f) => f.name).join(", ")})`
      : `health ${report.health.status}`,
  );
  return parts.join("; ");
}

/** The report as lines of text: stuck blocks, `--all`'s healthy lines, alerts, summary. */
export function renderStatus(report: StatusReport, options: { all: boolean }): string[] {
  const lines: string[] = [`engine ${terminalSafe(report.url)} at ${report.at}`];
  for (const a of report.actors.filter((a) => a.stuck)) {
    lines.push("", ...actorBlock(a, report.at));
  }
  for (const u of report.unserved) {
    lines.push(
      "",
      `STUCK ${u.actor}: ${u.queued} message(s) that no running node serves` +
        (u.since ? ` since ${u.since}` : ""),
      ...(u.reason ? [`  why:          ${u.reason}`] : []),
      ...(u.hint ? [`  act:          ${u.hint}`] : []),
    );
  }
  if (options.all) {
    const healthy = report.actors.filter((a) => !a.stuck);
    if (healthy.length > 0) lines.push("");
    for (const a of healthy) {
      const to = a.destinations.length > 0
        ? ` → ${a.destinations.map((d) => d.id).join(", ")}`
        : "";
      lines.push(`ok    ${a.id}${to}: ${a.state}, ${a.queueDepth} waiting`);
    }
  }
  lines.push("");
  if (report.alerts === undefined) lines.push("alerts: not readable (no GET /admin/alerts)");
  else if (report.alerts.length === 0) lines.push("alerts: none firing");
  else {
    lines.push(`alerts firing (${report.alerts.length}):`);
    for (const f of report.alerts) {
      lines.push(`  ${f.rule} (${f.kind}) ${f.subject} since ${f.since}: ${f.summary}`);
    }
  }
  if ("error" in report.health) lines.push(`health: ${terminalSafe(report.health.error)}`);
  else if (report.health.failing.length > 0) {
    lines.push(`health: ${report.health.status}`);
    for (const f of report.health.failing) lines.push(`  ${f.name}: ${f.reason}`);
  }
  if (report.deadLettersNotChecked > 0) {
    lines.push(`dead letters not checked for ${report.deadLettersNotChecked} actor(s)`);
  }
  lines.push("", report.summary);
  return lines;
}

function actorBlock(a: ActorReport, at: string): string[] {
  const to = a.destinations.length > 0
    ? a.destinations.map((d) => d.url ? `${d.id} (${d.url})` : d.id).join(", ")
    : "(no destination: an inbound or internal actor)";
  const lines = [
    `STUCK ${a.id}: ${a.reasons.join(", ")}`,
    `  delivers to:  ${to}`,
    `  state:        ${a.state}` +
    (a.since ? ` since ${a.since.at} (${a.since.what})` : "") +
    (a.socket ? `, socket ${a.socket}` : ""),
    `  waiting:      ${a.queueDepth} message(s)` +
    (a.oldestAgeSeconds !== undefined ? `, oldest ${duration(a.oldestAgeSeconds)} old` : ""),
  ];
  if (a.inFlight) {
    lines.push(
      `  head:         message ${a.inFlight.messageId}, log ${a.inFlight.logId}, ` +
        `${a.inFlight.attempts} attempt(s)` +
        (a.inFlight.since ? `, delivering since ${a.inFlight.since}` : ""),
    );
  }
  if (a.paused) {
    lines.push(
      `  paused by:    ${a.paused.by ?? "?"}` +
        (a.paused.at && a.since?.what !== "paused" ? ` at ${a.paused.at}` : "") +
        `: ${a.paused.reason || "(no reason given)"}`,
    );
  }
  lines.push(`  last error:   ${a.lastError ?? "(none)"}`);
  if (a.nextRetryAt) {
    const inS = secondsBetween(a.nextRetryAt, at);
    lines.push(
      `  next retry:   ${a.nextRetryAt}` +
        (inS !== undefined ? (inS >= 0 ? ` (in ${duration(inS)})` : " (due)") : ""),
    );
  } else if (a.state === "paused") lines.push("  next retry:   none while paused");
  if (a.unreadableHead) {
    lines.push(`  unreadable:   head ${a.unreadableHead.seq}: ${a.unreadableHead.reason}`);
  }
  if (a.deadLetters) {
    lines.push(
      `  dead letters: ${
        a.deadLetters >= DEAD_LETTER_LIMIT ? `≥${DEAD_LETTER_LIMIT}` : a.deadLetters
      }`,
    );
  }
  lines.push(`  act:          ${a.actions[0] ?? ""}`);
  for (const action of a.actions.slice(1)) lines.push(`                ${action}`);
  return lines;
}

/** The report as JSON text, with C1 controls and DEL escaped too (JSON leaves them raw). */
export function statusJson(report: StatusReport): string {
  return JSON.stringify(report, null, 2).replace(
    /[\x7f-\x9f\u2028\u2029]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Runs `status` against `client`: prints the report (text or JSON) through `print` and returns
 * the exit code ({@link STATUS_EXIT}); an engine that cannot be asked is said through `printError`.
 */
export async function runStatus(
  client: AdminClient,
  options: StatusOptions & { all: boolean; json: boolean },
  print: (line: string) => void,
  printError: (line: string) => void,
): Promise<number> {
  let report: StatusReport;
  try {
    report = await gatherStatus(client, options);
  } catch (error) {
    if (!(error instanceof AdminUnreachable)) throw error;
    printError(`status: ${terminalSafe(error.message)}`);
    return STATUS_EXIT.unreachable;
  }
  if (options.json) print(statusJson(report));
  else for (const line of renderStatus(report, { all: options.all })) print(line);
  return report.stuck > 0 ? STATUS_EXIT.stuck : STATUS_EXIT.ok;
}
