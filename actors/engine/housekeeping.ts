/**
 * The engine's housekeeping: retention sweeps (orphan chunks, logs and messages past retention,
 * dedupe records past their window) and the last-seen row, for as long as the engine runs.
 * @module
 */

import type { Config } from "../config/mod.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ClockWatch } from "../runtime/clock_watch.ts";
import type { Logger } from "../runtime/log.ts";
import { LAST_SEEN_EVERY_MS } from "../store/last_seen.ts";
import { sweepStore } from "../store/retention.ts";
import type { Store } from "../store/store.ts";
import { RetentionGuard } from "./retention_guard.ts";

/** What {@link housekeep} works with. */
export interface HousekeepingOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Notices wall-clock steps (the retention hold reads it). */
  watch: ClockWatch;
  /** The running config (its retention and dedupe window). */
  config(): Config;
  /** Ends the housekeeping (after one last last-seen row). */
  signal: AbortSignal;
}

/**
 * Hourly from start: collects orphan chunks and sweeps logs and messages past retention, unless
 * the sweep is held (retention_guard.ts: a forward clock step, records stamped ahead, or a start
 * far from when the engine was last seen running). Every {@link LAST_SEEN_EVERY_MS} and once
 * more at stop: the last-seen row.
 */
export async function housekeep(options: HousekeepingOptions): Promise<void> {
  const { store, clock, log, signal } = options;
  const guard = new RetentionGuard({
    store,
    clock,
    log,
    watch: options.watch,
  });
  try {
    await guard.start();
  } catch (error) {
    log.warn("engine.housekeeping-failed", { error });
  }
  let nextSweep = clock.monotonic();
  while (!signal.aborted) {
    try {
      // Not while the wall clock may be wrong: a sweep would delete history that is not old.
      const hold = await guard.hold();
      if (clock.monotonic() >= nextSweep) {
        nextSweep = clock.monotonic() + 3600_000;
        if (hold?.cause === "downtime") {
          // Said once, at start (retention.held-after-downtime).
          log.debug("retention.held", { ...hold });
        } else if (hold) {
          log.warn("retention.held-clock-step", { ...hold });
        } else {
          // In bounded batches, yielding between commits: intake goes on during a sweep.
          const swept = await sweepStore(store, {
            now: clock.now(),
            retentionMs: options.config().limits.logRetentionDays * 86_400_000,
            dedupeWindowMs: options.config().limits.dedupeWindowSeconds * 1000,
            signal,
          });
          if (swept.commits > 0 || swept.orphanChunks > 0) {
            log.info("engine.housekeeping", { ...swept });
          }
        }
      }
      await guard.seen(hold);
    } catch (error) {
      log.warn("engine.housekeeping-failed", { error });
    }
    const due = Math.min(LAST_SEEN_EVERY_MS, nextSweep - clock.monotonic());
    await clock.sleep(Math.max(0, due), signal);
  }
  // A clean stop: the next start measures its gap from now.
  try {
    await guard.seen(await guard.hold());
  } catch (error) {
    log.warn("engine.housekeeping-failed", { error });
  }
}
