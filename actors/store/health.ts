/**
 * Whether KV can commit right now. The group committer reports every commit's fate here; inbox,
 * delivery and `/healthz` read it. While commits fail (a full disk, an I/O error, a KV Connect
 * server gone) it holds the reason, logs one warning per interval however many writes fail, and
 * lets readers probe (one small commit, at most once per probe interval) to learn that space came
 * back without waiting for traffic.
 * @module
 */

import type { Logger } from "../runtime/log.ts";
import { errorMessage } from "../runtime/errors.ts";

/** A snapshot of the store's health. */
export interface StoreHealthState {
  writable: boolean;
  /** Since when (ms) the store has been in this state. */
  since: number;
  /** Why commits fail (the KV error), while not writable. */
  reason?: string;
  /** Commits that failed since the store stopped being writable. */
  failures: number;
}

/** A write refused because KV cannot commit: nothing of it was stored; try again later. */
export class StoreUnavailableError extends Error {
  /** The KV error, e.g. `database or disk is full`. */
  readonly reason: string;

  /** Wraps the KV error `cause`. */
  constructor(cause: unknown) {
    const reason = errorMessage(cause);
    super(`storage is not writable: ${reason}`, { cause });
    this.name = "StoreUnavailableError";
    this.reason = reason;
  }
}

/**
 * True when `error` says KV cannot commit at all, not that one write is wrong: anything but the
 * errors of a write over KV's limits (key or value too large, too many mutations or checks).
 */
export function isStorageFault(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (error instanceof RangeError) return false;
  const message = errorMessage(error);
  return !/too large|too many|exceeds|invalid|must be|not supported/i.test(message);
}

/**
 * True when `error` says the KV file itself is damaged (SQLite's "database disk image is
 * malformed", "file is not a database"): a torn page, a bad sector, a file overwritten.
 */
export function isDamage(error: unknown): boolean {
  return /disk image is malformed|file is not a database|database corrupt/i.test(
    errorMessage(error),
  );
}

/** Where damage was found, for {@link StoreHealth.noticeDamage}'s log line. */
export interface DamageFound {
  /** The KV file. */
  file?: string;
  /** SQLite's first problems, as it words them (`PRAGMA quick_check`). */
  problems?: readonly string[];
  /** What found it, e.g. "the integrity check at start". */
  foundBy?: string;
}

/** How a {@link StoreHealth} reports and probes. */
export interface StoreHealthOptions {
  now: () => number;
  /** One small commit through the group committer (which reports its own outcome). */
  probe: () => Promise<unknown>;
  /** Least time between two probes, default 1 s. */
  probeIntervalMs?: number;
}

/** See the module doc. */
export class StoreHealth {
  readonly #options: StoreHealthOptions;
  #log: Logger | undefined;
  #warnIntervalMs = 30_000;
  #writable = true;
  #since: number;
  #reason: string | undefined;
  #failures = 0;
  #lastWarnAt: number | undefined;
  /** The current outage was logged (its end is logged too). */
  #warned = false;
  /** Outages that began and ended within a warning interval, unlogged (a disk that flaps). */
  #quietOutages = 0;
  #lastProbeAt: number | undefined;
  #probing: Promise<void> | undefined;
  #closed = false;
  /** The file was found damaged: every commit is refused with this until the engine restarts. */
  #damage: StoreUnavailableError | undefined;

  /** Writable until a commit fails. */
  constructor(options: StoreHealthOptions) {
    this.#options = options;
    this.#since = options.now();
  }

  /** Where warnings go and how often (config `limits.storageWarningIntervalSeconds`). */
  configure(options: { log: Logger; warnIntervalMs: number }): void {
    this.#log = options.log;
    this.#warnIntervalMs = options.warnIntervalMs;
  }

  /** True while commits succeed (no I/O: cheap to ask on every message). */
  get writable(): boolean {
    return this.#writable;
  }

  /** The current state. */
  get state(): StoreHealthState {
    return {
      writable: this.#writable,
      since: this.#since,
      ...(this.#reason !== undefined ? { reason: this.#reason } : {}),
      failures: this.#failures,
    };
  }

  /**
   * A read or a commit found the KV file damaged (see {@link isDamage}); false for any other
   * error. From then on the store is not writable, whatever a commit does: pages other than the
   * damaged ones may still take commits, and senders would be told their messages were stored in
   * a file whose queues cannot be read. They get AE/CE or 503 instead, and keep their messages.
   * `found` says where it was found, for the log (the integrity check at start names the file and
   * SQLite's first problems).
   */
  noticeDamage(error: unknown, found?: DamageFound): boolean {
    if (this.#closed || !isDamage(error)) return false;
    if (this.#damage) return true;
    const reason = `the KV file is damaged (${errorMessage(error)})`;
    this.#damage = new StoreUnavailableError(reason);
    this.#writable = false;
    this.#since = this.#options.now();
    this.#reason = reason;
    this.#log?.error("store.damaged", {
      reason: errorMessage(error),
      ...found,
      effect: "nothing more is stored: senders get AE/CE or 503, deliveries and polls wait",
      next: "stop the engine, restore the KV file from a backup (or recover it with sqlite3's " +
        "`.recover`), then start it again",
    });
    return true;
  }

  /** The error every commit is refused with once the file was found damaged, else undefined. */
  refusal(): StoreUnavailableError | undefined {
    return this.#damage;
  }

  /** A commit failed with a storage fault. */
  failed(error: unknown): void {
    if (this.#closed || this.noticeDamage(error) || this.#damage) return;
    const now = this.#options.now();
    const reason = error instanceof StoreUnavailableError
      ? error.reason
      : error instanceof Error
      ? error.message
      : String(error);
    if (this.#writable) {
      this.#writable = false;
      this.#since = now;
      this.#failures = 0;
    }
    this.#reason = reason;
    this.#failures++;
    // One line per interval, not one per message (a full disk under load fails thousands), nor
    // one per outage: a nearly full disk takes a small commit now and then, and would otherwise
    // log a pair of lines for each.
    if (this.#lastWarnAt === undefined || now - this.#lastWarnAt >= this.#warnIntervalMs) {
      this.#lastWarnAt = now;
      this.#warned = true;
      this.#log?.warn("store.not-writable", {
        reason,
        since: new Date(this.#since).toISOString(),
        failedWrites: this.#failures,
        ...(this.#quietOutages > 0 ? { briefOutagesNotLogged: this.#quietOutages } : {}),
        effect: "senders get AE/CE or 503, deliveries and polls wait",
        nextWarningInSeconds: Math.round(this.#warnIntervalMs / 1000),
      });
      this.#quietOutages = 0;
    }
  }

  /** A commit succeeded. */
  succeeded(): void {
    if (this.#writable || this.#damage) return;
    const now = this.#options.now();
    // The end of an outage is logged when its start was; the warning interval runs on, so the
    // next outage within it is counted in the next warning instead of logged on its own.
    if (this.#warned) {
      this.#log?.info("store.writable-again", {
        downMs: now - this.#since,
        failedWrites: this.#failures,
        reason: this.#reason,
      });
    } else this.#quietOutages++;
    this.#warned = false;
    this.#writable = true;
    this.#since = now;
    this.#reason = undefined;
    this.#failures = 0;
  }

  /**
   * The state, after a probe commit when not writable and none ran within the probe interval.
   * Callers waiting for storage (an actor, `/healthz`) call it; concurrent calls share one probe.
   */
  async check(): Promise<StoreHealthState> {
    if (this.#writable || this.#closed) return this.state;
    const now = this.#options.now();
    const interval = this.#options.probeIntervalMs ?? 1000;
    if (
      !this.#probing && (this.#lastProbeAt === undefined || now - this.#lastProbeAt >= interval)
    ) {
      this.#lastProbeAt = now;
      // The committer reports the outcome to this object; the error itself is not needed here.
      this.#probing = this.#options.probe().then(() => {}, () => {}).finally(() => {
        this.#probing = undefined;
      });
    }
    await this.#probing;
    return this.state;
  }

  /** The store is closing: commits failing from now on are not a fault of the disk. */
  close(): void {
    this.#closed = true;
  }
}
