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

/** See the module doc: the 24-hour tally, rebuilt at most every `ttlMs`. */
export class TallyCache {
  readonly #store: Pick<AdminService, "listLogs">;
  readonly #now: () => number;
  readonly #budget: number;
  readonly #ttlMs: number;
  #cached?: { at: number; tally: Promise<Tally> };

  /** `budget`: logs scanned at most (default 5,000). */
  constructor(
    store: Pick<AdminService, "listLogs">,
    now: () => number,
    options: { budget?: number; ttlMs?: number } = {},
  ) {
    this.#store = store;
    this.#now = now;
    this.#budget = options.budget ?? 5000;
    this.#ttlMs = options.ttlMs ?? 5000;
  }

  /** The tally of the last 24 hours. */
  last24h(): Promise<Tally> {
    const now = this.#now();
    if (this.#cached && now - this.#cached.at < this.#ttlMs) return this.#cached.tally;
    const tally = this.#build(now);
    this.#cached = { at: now, tally };
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
