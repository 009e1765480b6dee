/**
 * Counts over recent logs for tiles, arrows and charts. The store keeps no counters, so these
 * come from a scan of the newest logs, bounded (a page must render in well under 200 ms at a
 * million logs) and cached for a few seconds; a count cut short by the bound says so.
 * @module
 */

import type { AdminService, LogRecord } from "../../../actors/ports.ts";

/** Messages and failures. */
export interface Counts {
  total: number;
  failed: number;
}

/** Counts of the last 24 hours by integration, source, destination and flow. */
export interface Tally {
  since: number;
  /** The scan stopped at its bound: counts are of the newest `scanned` logs only. */
  truncated: boolean;
  scanned: number;
  /** Keyed `integration:<id>`, `source:<id>`, `destination:<id>`, `flow:<from>→<destination>`. */
  counts: Map<string, Counts>;
}

const DAY = 24 * 3600_000;

/** Newest logs since `since`, at most `budget`, page by page. */
export async function* recentLogs(
  store: Pick<AdminService, "listLogs">,
  since: number,
  budget: number,
): AsyncGenerator<LogRecord, boolean> {
  let cursor: string | undefined;
  let seen = 0;
  while (seen < budget) {
    const page = await store.listLogs({
      since,
      limit: Math.min(500, budget - seen),
      ...(cursor ? { cursor } : {}),
    });
    for (const log of page.logs) yield log;
    seen += page.logs.length;
    if (!page.next) return false;
    cursor = page.next;
  }
  return true;
}

/** An age within `[0, ttlMs)`: a negative one (the clock went back) is not fresh. */
function fresh(age: number, ttlMs: number): boolean {
  return age >= 0 && age < ttlMs;
}

function bump(map: Map<string, Counts>, key: string, failed: boolean): void {
  let c = map.get(key);
  if (!c) map.set(key, c = { total: 0, failed: 0 });
  c.total++;
  if (failed) c.failed++;
}

/** The flow key of a SEND log: where it came from and where it goes. */
export function flowKey(from: string, destinationId: string): string {
  return `flow:${from}→${destinationId}`;
}

/**
 * See the module doc: the 24-hour tally, rebuilt at most every `ttlMs`. The cache is kept only
 * while both clocks call it fresh: less than `ttlMs` old on the monotonic clock, and on the wall
 * clock (whose time the 24 hours are counted back from) neither older nor in the future, so a
 * wall-clock step either way rebuilds it at once rather than freeze it for the step's length.
 */
export class TallyCache {
  readonly #store: Pick<AdminService, "listLogs">;
  readonly #now: () => number;
  readonly #monotonic: () => number;
  readonly #budget: number;
  readonly #ttlMs: number;
  #cached?: { at: number; mono: number; tally: Promise<Tally> };

  /**
   * `now`: the wall clock; `budget`: logs scanned at most (default 5,000); `monotonic`: a clock
   * that never steps (default `performance.now`).
   */
  constructor(
    store: Pick<AdminService, "listLogs">,
    now: () => number,
    options: { budget?: number; ttlMs?: number; monotonic?: () => number } = {},
  ) {
    this.#store = store;
    this.#now = now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#budget = options.budget ?? 5000;
    this.#ttlMs = options.ttlMs ?? 5000;
  }

  /** The tally of the last 24 hours. */
  last24h(): Promise<Tally> {
    const now = this.#now();
    const mono = this.#monotonic();
    const c = this.#cached;
    if (c && fresh(mono - c.mono, this.#ttlMs) && fresh(now - c.at, this.#ttlMs)) return c.tally;
    const tally = this.#build(now);
    this.#cached = { at: now, mono, tally };
    tally.catch(() => this.#cached = undefined);
    return tally;
  }

  async #build(now: number): Promise<Tally> {
    const since = now - DAY;
    const counts = new Map<string, Counts>();
    let scanned = 0;
    const logs = recentLogs(this.#store, since, this.#budget);
    let r = await logs.next();
    while (!r.done) {
      const log = r.value;
      scanned++;
      const failed = log.status === "FAILED";
      if (log.type === "SEND") {
        if (log.destinationId) bump(counts, `destination:${log.destinationId}`, failed);
        const from = log.integrationId ?? log.sourceId;
        if (from && log.destinationId) bump(counts, flowKey(from, log.destinationId), failed);
      } else if (log.type === "RECEIVE" || log.type === "REQUEST") {
        if (log.integrationId) bump(counts, `integration:${log.integrationId}`, failed);
        if (log.sourceId) bump(counts, `source:${log.sourceId}`, failed);
      }
      r = await logs.next();
    }
    return { since, truncated: r.value, scanned, counts };
  }
}
