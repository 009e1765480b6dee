/**
 * The engine's group commits over a run, from its own metrics: how many, how full, and how long
 * each was in KV. A share in KV near 1 means the store committed back to back: the run was held
 * by KV's one commit at a time, not by the engine's JavaScript.
 * @module
 */

import type { EngineChild } from "./engine_child.ts";

/** The commit counters of `/metrics` at one moment. */
export interface CommitCounters {
  commits: number;
  writes: number;
  /** `engine_kv_commit_seconds_sum`. */
  seconds: number;
}

/** What the commits of a run were like. */
export interface CommitPace {
  perSecond: number;
  /** Writes per commit (an accept or a completion is one write). */
  writesEach: number;
  /** A commit's mean time in KV, ms. */
  msEach: number;
  /** The share of the run a commit was in KV (one at a time). */
  inFlightShare: number;
}

/** Reads the engine's commit counters (NaN where unreadable). */
export async function kvCommits(engine: EngineChild): Promise<CommitCounters> {
  return {
    commits: await engine.metric("engine_kv_commits_total"),
    writes: await engine.metric("engine_kv_writes_total"),
    seconds: await engine.metric("engine_kv_commit_seconds_sum"),
  };
}

/**
 * The pace of the commits between `before` and `after`, over `seconds` of run.
 *
 * @example
 * ```ts
 * const pace = commitPace(before, await kvCommits(engine), 10);
 * pace.inFlightShare; // 0.9: KV was committing 90 % of the run
 * ```
 */
export function commitPace(
  before: CommitCounters,
  after: CommitCounters,
  seconds: number,
): CommitPace {
  const commits = after.commits - before.commits;
  const inKv = after.seconds - before.seconds;
  return {
    perSecond: commits / seconds,
    writesEach: (after.writes - before.writes) / Math.max(1, commits),
    msEach: inKv * 1000 / Math.max(1, commits),
    inFlightShare: inKv / seconds,
  };
}
