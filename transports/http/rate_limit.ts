/**
 * A per-client rolling-window rate limit kept in this process's memory. Time is cut into slices
 * (30 per window by default: 10 s each for 5 minutes) and a request counts against the limit
 * until the window has passed after the end of its slice, so no window of that length ever holds
 * more than the limit (a request counts for between one window and one window plus a slice).
 * Refused requests are not counted, so a client that backs off as told by `Retry-After` gets
 * through when its earlier requests age out.
 *
 * Only elapsed time matters, so it is read from `performance.now()` (monotonic): a wall-clock step
 * (NTP, `date -s`) neither refuses a client for the step's length nor forgives its requests. An
 * injected clock that goes back anyway starts the client's window afresh.
 *
 * In a cluster every node counts on its own: behind a load balancer spreading one client over N
 * nodes, that client may send up to N times the limit.
 * @module
 */

/** How a {@link RateLimiter} counts. */
export interface RateLimitOptions {
  /** Requests allowed per client within the window. */
  limit: number;
  /** Length of the rolling window in milliseconds. */
  windowMs: number;
  /** Slices the window is counted in (default 30): more slices, smoother rolling. */
  slices?: number;
  /** Clients tracked at most (default 100,000); past it, the longest-known are forgotten. */
  maxClients?: number;
  /** Milliseconds on a monotonic clock: `performance.now` unless a test injects one. */
  now?: () => number;
}

/** The verdict on one request. */
export type RateDecision =
  | { allowed: true; limit: number; remaining: number }
  | { allowed: false; limit: number; remaining: 0; retryAfterSeconds: number };

interface Counter {
  /** Requests per slice, indexed by slice number modulo the ring size (slices + 1). */
  counts: Uint32Array;
  /** The newest slice number written. */
  newest: number;
  /** Sum of `counts` over the slices still in the window. */
  total: number;
}

/** See the module doc. */
export class RateLimiter {
  /** Requests allowed per client within the window. */
  readonly limit: number;
  /** Length of the window in milliseconds. */
  readonly windowMs: number;
  /** Slices a request stays counted in: the window's, plus the one it was made in. */
  readonly #ring: number;
  readonly #sliceMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #clients = new Map<string, Counter>();
  #sweptAt = 0;

  /** Builds a limiter; refuses a non-positive limit or window. */
  constructor(options: RateLimitOptions) {
    const slices = options.slices ?? 30;
    if (!(options.limit >= 1) || !Number.isInteger(options.limit)) {
      throw new Error(`rate limit: limit must be a positive integer, got ${options.limit}`);
    }
    if (!(options.windowMs > 0)) {
      throw new Error(`rate limit: window must be positive, got ${options.windowMs} ms`);
    }
    if (!(slices >= 1) || !Number.isInteger(slices)) {
      throw new Error(`rate limit: slices must be a positive integer, got ${slices}`);
    }
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.#ring = slices + 1;
    this.#sliceMs = options.windowMs / slices;
    this.#maxClients = options.maxClients ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Clients currently tracked. */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * The verdict {@link take} would give `client` now, without counting anything: for limits that
   * count failures only, checked before the attempt and counted (with `take`) once it failed.
   */
  peek(client: string): RateDecision {
    const counter = this.#clients.get(client);
    if (!counter) return { allowed: true, limit: this.limit, remaining: this.limit };
    const now = this.#now();
    const slice = Math.floor(now / this.#sliceMs);
    this.#advance(counter, slice);
    if (counter.total >= this.limit) return this.#refused(counter, slice, now);
    return { allowed: true, limit: this.limit, remaining: this.limit - counter.total };
  }

  /** Counts one request from `client` if it is within the limit. */
  take(client: string): RateDecision {
    const now = this.#now();
    const slice = Math.floor(now / this.#sliceMs);
    let counter = this.#clients.get(client);
    if (!counter) {
      this.#makeRoom(slice);
      counter = { counts: new Uint32Array(this.#ring), newest: slice, total: 0 };
      this.#clients.set(client, counter);
    } else this.#advance(counter, slice);
    if (counter.total >= this.limit) return this.#refused(counter, slice, now);
    counter.counts[slice % this.#ring]!++;
    counter.total++;
    return { allowed: true, limit: this.limit, remaining: this.limit - counter.total };
  }

  /**
   * Drops the slices that left the window since the counter was last touched. A slice before the
   * newest one written means the clock went back: counting on would keep every request counted
   * until it caught up, so the window starts afresh.
   */
  #advance(counter: Counter, slice: number): void {
    if (slice < counter.newest) {
      counter.counts.fill(0);
      counter.total = 0;
      counter.newest = slice;
      return;
    }
    const gap = Math.min(slice - counter.newest, this.#ring);
    for (let k = 1; k <= gap; k++) {
      const at = (counter.newest + k) % this.#ring;
      counter.total -= counter.counts[at]!;
      counter.counts[at] = 0;
    }
    if (slice > counter.newest) counter.newest = slice;
  }

  /** The refusal of a `client` whose `counter` is at the limit. */
  #refused(counter: Counter, slice: number, now: number): RateDecision {
    return {
      allowed: false,
      limit: this.limit,
      remaining: 0,
      retryAfterSeconds: this.#retryAfter(counter, slice, now),
    };
  }

  /** Seconds until enough of the oldest slices leave the window to admit one more request. */
  #retryAfter(counter: Counter, slice: number, now: number): number {
    let total = counter.total;
    for (let s = slice - this.#ring + 1; s <= slice; s++) {
      total -= counter.counts[((s % this.#ring) + this.#ring) % this.#ring]!;
      if (total < this.limit) {
        // Slice `s` stops counting when slice `s + ring` begins.
        return Math.max(1, Math.ceil(((s + this.#ring) * this.#sliceMs - now) / 1000));
      }
    }
    return Math.ceil((this.windowMs + this.#sliceMs) / 1000);
  }

  /** Forgets idle clients (at most once per slice), then the oldest while still over the cap. */
  #makeRoom(slice: number): void {
    if (this.#clients.size < this.#maxClients) return;
    if (slice !== this.#sweptAt) {
      this.#sweptAt = slice;
      for (const [client, counter] of this.#clients) {
        if (slice - counter.newest >= this.#ring) this.#clients.delete(client);
      }
    }
    for (const client of this.#clients.keys()) {
      if (this.#clients.size < this.#maxClients) break;
      this.#clients.delete(client);
    }
  }
}
