/**
 * What each kind of alert rule watches, as a function from what the engine shows now to the
 * subjects in alarm (a queue, an actor, an integration, a key…). Durations ("paused for longer
 * than T") are enforced by the monitor from each condition's `since`.
 * @module
 */

import type { AlertRule } from "../config/alerts.ts";
import { WEEKDAYS } from "../config/alerts.ts";
import type { ActorStatus } from "../runtime/actor.ts";

/** What rules are evaluated against (the engine provides it; tests may fake parts). */
export interface AlertInputs {
  /** FAILED logs created since `since`, counted up to `atLeast` (no need to count further). */
  countFailed(filter: FailedFilter, atLeast: number): Promise<number>;
  /**
   * The same count, with the newest of those logs (read by the same listing: no read more), so
   * that a `failed-logs` summary says which log, where and why. Used instead of
   * {@link countFailed} when given.
   */
  failedLogs?(filter: FailedFilter, atLeast: number): Promise<FailedLogs>;
  /** Every known actor's status. */
  actors(): Promise<ActorStatus[]>;
  /** When the integration last received a message (ms), if ever. */
  lastReceived(integrationId: string): Promise<number | undefined>;
  /** Whether KV can commit, and since when. */
  storeHealth(): { writable: boolean; since: number; reason?: string };
  /** Certificates and SSH keys of the config with an end of validity. */
  expiries(): { subject: string; notAfter: number }[];
  /** The actor delivering to a destination. */
  actorOfDestination(id: string): string | undefined;
  /**
   * The destinations an actor delivers to (several MLLP destinations at one `host:port` share
   * one), named in summaries so that `mllp-out:10.0.0.5:6661` says which destination it is.
   */
  destinationsOfActor?(actorId: string): string[];
}

/** Which FAILED logs a `failed-logs` rule counts. */
export interface FailedFilter {
  since: number;
  integrationId?: string;
  destinationId?: string;
}

/** FAILED logs counted (up to what was asked) and the newest of them. */
export interface FailedLogs {
  count: number;
  newest?: { id: string; integrationId?: string; destinationId?: string; reason?: string };
}

/** A subject in alarm. */
export interface Condition {
  subject: string;
  summary: string;
  /** Since when it has held, when known (else the monitor counts from its first sight). */
  since?: number;
  /**
   * Not known to hold, nor known to have ended: keeps an alert already firing for the subject
   * (no resolved), starts none. An actor in the middle of an attempt whose outcome is not known
   * yet (the first attempt after a restart, with nothing in memory about the head) is such a case.
   */
  holdOnly?: boolean;
  /**
   * What the alert is about, without the numbers of the moment (`queue mllp-out:… (destination
   * lab)`): a resolved names it, with the worst seen, instead of the last summary's numbers.
   */
  about?: string;
  /** A queue's numbers now: the monitor keeps the worst seen while the alert fires. */
  measure?: { depth: number; oldestAgeMs?: number };
}

/** Reasons quoted in summaries are cut to this many characters. */
const MAX_REASON = 200;

/**
 * A duration as an operator reads it: seconds up to 10 min, then minutes up to 5 h, then hours
 * (coarse on purpose: a summary holding an age changes, and is stored, once a minute at most
 * past 10 min).
 */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 600) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 300) return `${min} min`;
  return `${Math.round(min / 60)} h`;
}

/** The newest failed log, as a summary names it: its id, where it went or came from, and why. */
function newestText(newest: NonNullable<FailedLogs["newest"]>): string {
  const where = newest.destinationId
    ? ` to ${newest.destinationId}${newest.integrationId ? ` (from ${newest.integrationId})` : ""}`
    : newest.integrationId
    ? ` from ${newest.integrationId}`
    : "";
  const reason = newest.reason
    ? `: ${
      newest.reason.length > MAX_REASON ? `${newest.reason.slice(0, MAX_REASON)}…` : newest.reason
    }`
    : "";
  return `newest ${newest.id}${where}${reason}`;
}

const DAY_MS = 86_400_000;

/** The actor's id and, when known, the destinations it delivers to. */
function named(a: ActorStatus, inputs: AlertInputs): string {
  const ids = inputs.destinationsOfActor?.(a.id) ?? [];
  // `https:lab` already names its one destination.
  if (ids.length === 0 || (ids.length === 1 && a.id.endsWith(`:${ids[0]}`))) return a.id;
  return `${a.id} (destination ${ids.join(", ")})`;
}

/** Why an actor is not delivering, in the peer's terms when it said something. */
function stateOf(a: ActorStatus): string {
  if (a.state === "paused") {
    return `paused${a.paused?.by ? ` by ${a.paused.by}` : ""}${
      a.paused?.reason ? `: ${a.paused.reason}` : ""
    }${a.lastError ? ` (last error: ${a.lastError})` : ""}`;
  }
  if (a.state === "backoff" || retrying(a)) {
    return `backing off${a.lastError ? ` (${a.lastError})` : ""}`;
  }
  return a.state;
}

/**
 * An actor out of backoff to try again a head that has already failed (connecting, sending or
 * awaiting its ACK, with attempts on record: an attempt is recorded when it ends, and a success
 * moves the head on): still stalled. Without this, each retry of a peer that times out (an ACK or
 * an HTTP answer that never comes) ended the alert and the next backoff fired it again, a
 * resolved and a firing per retry; so did the first retry after a restart (no error in memory
 * yet).
 */
function retrying(a: ActorStatus): boolean {
  return attempting(a) && (a.inFlight?.attempts ?? 0) > 0;
}

/** In the middle of an attempt: its outcome is not known yet. */
function attempting(a: ActorStatus): boolean {
  return a.state === "connecting" || a.state === "sending" || a.state === "awaiting-ack";
}

/** The subjects in alarm for `rule` now. `startedAt`: the baseline of "no traffic yet". */
export async function evaluateRule(
  rule: AlertRule,
  inputs: AlertInputs,
  now: number,
  startedAt: number,
): Promise<Condition[]> {
  switch (rule.kind) {
    case "failed-logs": {
      const filter: FailedFilter = {
        since: now - rule.windowSeconds * 1000,
        ...(rule.integration ? { integrationId: rule.integration } : {}),
        ...(rule.destination ? { destinationId: rule.destination } : {}),
      };
      const got: FailedLogs = inputs.failedLogs
        ? await inputs.failedLogs(filter, rule.threshold)
        : { count: await inputs.countFailed(filter, rule.threshold) };
      if (got.count < rule.threshold) return [];
      const scope = rule.integration
        ? `integration ${rule.integration}`
        : rule.destination
        ? `destination ${rule.destination}`
        : "all";
      // Counting stops at the threshold (bounded work): more may have failed.
      const counted = `at least ${rule.threshold} failed ${
        rule.threshold === 1 ? "log" : "logs"
      } (${scope}) within ${rule.windowSeconds} s`;
      return [{
        subject: scope,
        summary: got.newest ? `${counted}; ${newestText(got.newest)}` : counted,
      }];
    }
    case "queue": {
      const wanted = rule.actor ??
        (rule.destination ? inputs.actorOfDestination(rule.destination) : undefined);
      const out: Condition[] = [];
      for (const a of await inputs.actors()) {
        if (wanted !== undefined && a.id !== wanted) continue;
        const reasons: string[] = [];
        if (rule.maxDepth !== undefined && a.queueDepth > rule.maxDepth) {
          reasons.push(`depth ${a.queueDepth} > ${rule.maxDepth}`);
        }
        const age = a.oldestAgeMs;
        if (
          rule.maxAgeSeconds !== undefined && age !== undefined && age > rule.maxAgeSeconds * 1000
        ) {
          reasons.push(`oldest message ${durationText(age)} old > ${rule.maxAgeSeconds} s`);
        }
        if (reasons.length) {
          const about = `queue ${named(a, inputs)}`;
          out.push({
            subject: a.id,
            summary: `${about}: ${reasons.join(", ")}; ${a.queueDepth} waiting, ${stateOf(a)}`,
            about,
            measure: {
              depth: a.queueDepth,
              ...(a.oldestAgeMs !== undefined ? { oldestAgeMs: a.oldestAgeMs } : {}),
            },
          });
        }
      }
      return out;
    }
    case "actor-stalled": {
      const out: Condition[] = [];
      for (const a of await inputs.actors()) {
        if (rule.actor !== undefined && a.id !== rule.actor) continue;
        if (a.state !== "paused" && a.state !== "backoff" && !retrying(a)) {
          if (attempting(a) && a.queueDepth > 0) {
            out.push({
              subject: a.id,
              summary: `actor ${named(a, inputs)} ${a.state}; ${a.queueDepth} waiting`,
              holdOnly: true,
            });
          }
          continue;
        }
        out.push({
          subject: a.id,
          summary: `actor ${named(a, inputs)} ${stateOf(a)}; ${a.queueDepth} waiting`,
          ...(a.state === "paused" && a.paused?.at !== undefined ? { since: a.paused.at } : {}),
        });
      }
      return out;
    }
    case "no-traffic": {
      const last = (await inputs.lastReceived(rule.integration)) ?? startedAt;
      const forMs = rule.forSeconds * 1000;
      const silent = rule.hours ? activeMs(last, now, rule.hours, forMs) : now - last;
      if (rule.hours && !withinHours(now, rule.hours)) return [];
      if (silent < forMs) return [];
      return [{
        subject: rule.integration,
        summary: `integration ${rule.integration} received nothing for ${
          Math.round((now - last) / 1000)
        } s (limit ${rule.forSeconds} s${rule.hours ? " within its hours" : ""})`,
      }];
    }
    case "store-unavailable": {
      const h = inputs.storeHealth();
      if (h.writable) return [];
      return [{
        subject: "kv",
        summary: `the store cannot commit: ${h.reason ?? "unknown reason"}`,
        since: h.since,
      }];
    }
    case "certificate-expiry": {
      const out: Condition[] = [];
      for (const e of inputs.expiries()) {
        const left = e.notAfter - now;
        if (left > rule.withinDays * DAY_MS) continue;
        out.push({
          subject: e.subject,
          summary: left <= 0
            ? `${e.subject} expired on ${new Date(e.notAfter).toISOString()}`
            : `${e.subject} expires on ${new Date(e.notAfter).toISOString()} (in ${
              Math.ceil(left / DAY_MS)
            } days)`,
        });
      }
      return out;
    }
  }
}

/** Watched hours of a no-traffic rule. */
export interface Hours {
  days: readonly (typeof WEEKDAYS)[number][];
  from: string;
  to: string;
  timeZone: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(at: number, timeZone: string): { day: string; minutes: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  let day = "", hour = 0, minute = 0;
  for (const p of f.formatToParts(at)) {
    if (p.type === "weekday") day = p.value.toLowerCase().slice(0, 3);
    else if (p.type === "hour") hour = Number(p.value);
    else if (p.type === "minute") minute = Number(p.value);
  }
  return { day, minutes: hour * 60 + minute };
}

/** Whether `at` falls within the watched hours (`to` before `from` spans midnight). */
export function withinHours(at: number, hours: Hours): boolean {
  const { day, minutes } = localParts(at, hours.timeZone);
  if (!hours.days.includes(day as (typeof WEEKDAYS)[number])) return false;
  const from = minutesOf(hours.from);
  const to = minutesOf(hours.to);
  return from <= to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

const STEP_MS = 60_000;
/** Steps looked back at most (two weeks of minutes): silence beyond is counted as enough. */
const MAX_STEPS = 14 * 24 * 60;

/**
 * Watched time between `from` and `to`, by the minute, walking back from `to` and stopping once
 * `enough` is reached (a long silence costs no more than the rule needs).
 */
export function activeMs(from: number, to: number, hours: Hours, enough: number): number {
  let total = 0;
  let t = to;
  for (let i = 0; i < MAX_STEPS && t > from; i++) {
    const step = Math.min(STEP_MS, t - from);
    if (withinHours(t - step, hours)) total += step;
    if (total >= enough) return total;
    t -= step;
  }
  return t > from ? Math.max(total, enough) : total;
}
