/**
 * Validation of what an admin client sends: log filters from the query string and the JSON body
 * of operator commands. Every refusal names the parameter and what it accepts.
 * @module
 */

import type { LogFilter, LogStatus, LogType } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";
import { duplicateKeyAt } from "../../codecs/json/mod.ts";

/** A parsed value, or the message of a 400 answer. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Log statuses accepted by `status=`. */
export const LOG_STATUSES: readonly LogStatus[] = ["PENDING", "SUCCEEDED", "FAILED", "FILTERED"];
/** Log types accepted by `type=`. */
export const LOG_TYPES: readonly LogType[] = ["SEND", "RECEIVE", "REQUEST", "RESPOND"];
/** Largest page of logs (the store's own cap). */
export const MAX_LIMIT = 500;

/** Query parameter of `GET /admin/logs` → field of {@link LogFilter}, for the free-text ones. */
const TEXT_FILTERS = {
  dataModel: "dataModel",
  eventType: "eventType",
  destination: "destinationId",
  integration: "integrationId",
} as const;
const LOG_PARAMS: readonly string[] = [
  "status",
  "type",
  ...Object.keys(TEXT_FILTERS),
  "since",
  "until",
  "cursor",
  "limit",
];
const MAX_TEXT = 200;
const TIME_FORMS = "an ISO 8601 date-time with a zone (2026-01-15T08:30:00Z, " +
  "2026-01-15T08:30:00.250+01:00), a date (2026-01-15, UTC midnight) or milliseconds since 1970";
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+ -]\d{2}:\d{2}))?$/;
/** Ids made by the store's IdGenerator: 11 + 5 base-36 digits, then up to 12 node characters. */
const CURSOR = /^[0-9a-z]{16}[A-Za-z0-9]{1,12}$/;

const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });
const shown = (v: string) => JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);

/**
 * A time given as milliseconds since the epoch or as ISO 8601 (see {@link TIME_FORMS}). A space
 * before the zone offset is read as `+`, since an unencoded `+` arrives as a space in a query.
 */
export function parseTime(name: string, raw: string): Parsed<number> {
  const problem = `${name}: expected ${TIME_FORMS}; got ${shown(raw)}`;
  if (/^\d{1,15}$/.test(raw)) return { ok: true, value: Number(raw) };
  const m = ISO.exec(raw);
  if (!m) return fail(problem);
  const [, y, mo, d, h, mi, s, zone] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  const validDate = day.getUTCFullYear() === Number(y) && day.getUTCMonth() === Number(mo) - 1 &&
    day.getUTCDate() === Number(d);
  const validTime = h === undefined ||
    (Number(h) < 24 && Number(mi) < 60 && (s === undefined || Number(s) < 60));
  if (!validDate || !validTime || (h !== undefined && zone === undefined)) return fail(problem);
  const ms = Date.parse(zone?.startsWith(" ") ? raw.replace(" ", "+") : raw);
  return Number.isFinite(ms) ? { ok: true, value: ms } : fail(problem);
}

/** A page size: an integer from 1 to {@link MAX_LIMIT}; `fallback` when absent. */
export function parseLimit(raw: string | null | undefined, fallback: number): Parsed<number> {
  if (raw === null || raw === undefined) return { ok: true, value: fallback };
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT) {
    return fail(`limit: expected an integer from 1 to ${MAX_LIMIT}; got ${shown(raw)}`);
  }
  return { ok: true, value: Number(raw) };
}

/**
 * A page cursor under the parameter `name` (`cursor`, or `before` for the alerts history): the
 * `next` of a previous page, which is an id made by the store.
 */
export function parseCursor(name: string, raw: string): Parsed<string> {
  return CURSOR.test(raw)
    ? { ok: true, value: raw }
    : fail(`${name}: expected the "next" of a previous page; got ${shown(raw)}`);
}

/**
 * Refuses a query parameter that is not in `allowed`, or one given more than once. The refusal
 * lists `listed` (default `allowed`: more when a caller takes some parameters out beforehand).
 */
function checkNames(
  query: URLSearchParams,
  allowed: readonly string[],
  listed: readonly string[] = allowed,
): Parsed<void> {
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (!allowed.includes(name)) {
      return fail(`unknown parameter ${shown(name)}; allowed: ${listed.join(", ")}`);
    }
    if (seen.has(name)) return fail(`${name}: given more than once`);
    seen.add(name);
  }
  return { ok: true, value: undefined };
}

/** One page of a list: its size and where it starts (after the `next` of the previous page). */
export interface PageQuery {
  limit: number;
  cursor?: string;
}

/**
 * The query string of a paged list without filters (`GET /admin/audit?limit&cursor`,
 * `GET /admin/alerts/history?limit&before`): `limit` (1 to {@link MAX_LIMIT}, else
 * `defaultLimit`) and the cursor under `cursorName`. Bad values, unknown or repeated parameters are
 * refused as {@link parseLogFilter} refuses them.
 */
export function parsePageQuery(
  query: URLSearchParams,
  cursorName: "cursor" | "before",
  defaultLimit: number,
): Parsed<PageQuery> {
  const names = checkNames(query, ["limit", cursorName]);
  if (!names.ok) return names;
  const limit = parseLimit(query.get("limit"), defaultLimit);
  if (!limit.ok) return limit;
  const raw = query.get(cursorName);
  if (raw === null) return { ok: true, value: { limit: limit.value } };
  const cursor = parseCursor(cursorName, raw);
  return cursor.ok ? { ok: true, value: { limit: limit.value, cursor: cursor.value } } : cursor;
}

/**
 * The query string of a list that takes only `limit` (`GET /admin/actors/:id/dead-letters`):
 * unknown or repeated parameters and bad values are refused as {@link parseLogFilter} refuses
 * them.
 */
export function parseLimitQuery(query: URLSearchParams, defaultLimit: number): Parsed<number> {
  const names = checkNames(query, ["limit"]);
  return names.ok ? parseLimit(query.get("limit"), defaultLimit) : names;
}

/**
 * The filter of `GET /admin/logs` from its query string. Unknown or repeated parameters are
 * refused too, so a misspelt filter never silently returns every log.
 */
export function parseLogFilter(query: URLSearchParams): Parsed<LogFilter> {
  const filter: LogFilter = {};
  // `patient` is taken out before (transports/http/patient_search.ts), but is one a user may give.
  const names = checkNames(query, LOG_PARAMS, [...LOG_PARAMS, "patient"]);
  if (!names.ok) return names;
  for (const [name, raw] of query) {
    if (name === "status" || name === "type") {
      const allowed: readonly string[] = name === "status" ? LOG_STATUSES : LOG_TYPES;
      const value = raw.toUpperCase();
      if (!allowed.includes(value)) {
        return fail(`${name}: expected one of ${allowed.join(", ")}; got ${shown(raw)}`);
      }
      if (name === "status") filter.status = value as LogStatus;
      else filter.type = value as LogType;
    } else if (name === "since" || name === "until") {
      const t = parseTime(name, raw);
      if (!t.ok) return t;
      filter[name] = t.value;
    } else if (name === "limit") {
      const l = parseLimit(raw, 50);
      if (!l.ok) return l;
      filter.limit = l.value;
    } else if (name === "cursor") {
      const cursor = parseCursor(name, raw);
      if (!cursor.ok) return cursor;
      filter.cursor = cursor.value;
    } else {
      if (raw === "" || raw.length > MAX_TEXT) {
        return fail(`${name}: expected 1 to ${MAX_TEXT} characters; got ${raw.length}`);
      }
      filter[TEXT_FILTERS[name as keyof typeof TEXT_FILTERS]] = raw;
    }
  }
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    return fail("since: must not be later than until");
  }
  return { ok: true, value: filter };
}

/** Who asked for an operator command and why. */
export interface CommandBody {
  by: string;
  reason: string;
}

const MAX_BY = 100;
const MAX_REASON = 1000;

/**
 * The optional JSON body `{"by"?: string, "reason"?: string}` of an operator command. An empty
 * body means `{}`; `by` defaults to `"admin"`, `reason` to `""` unless `reasonRequired`.
 */
export function parseCommandBody(text: string, reasonRequired: boolean): Parsed<CommandBody> {
  let body: unknown = {};
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch (error) {
      return fail(`invalid JSON body: ${errorMessage(error)}`);
    }
    const repeated = duplicateKeyAt(text);
    if (repeated) return fail(`invalid JSON body: "${repeated.key}" is named twice`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return fail('invalid body: expected a JSON object like {"reason": "...", "by": "..."}');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => k !== "by" && k !== "reason");
  if (unknown.length > 0) {
    return fail(`invalid body: unknown field ${shown(unknown[0]!)}; allowed: by, reason`);
  }
  const { by = "admin", reason = "" } = fields;
  if (typeof by !== "string" || by.trim() === "" || by.length > MAX_BY) {
    return fail(`by: expected a non-empty string of at most ${MAX_BY} characters`);
  }
  if (typeof reason !== "string" || reason.length > MAX_REASON) {
    return fail(`reason: expected a string of at most ${MAX_REASON} characters`);
  }
  if (reasonRequired && reason.trim() === "") {
    return fail("reason: required, saying why the message is skipped (it is logged with by)");
  }
  return { ok: true, value: { by: by.trim(), reason: reason.trim() } };
}
