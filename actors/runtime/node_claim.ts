/**
 * A process claiming its node id at start, on a KV other processes may share (see cluster.ts's
 * module doc): a record not stopped cleanly is watched for its writer's heartbeat interval plus a
 * margin. If it changes under another process's token, that process runs with this node id and
 * the start is refused ({@link NodeIdInUseError}); if it stays unchanged, its writer is gone. No
 * clocks are compared between processes: the sleeps pace the watch.
 * @module
 */

import type { NodeEntry, NodeRecord, NodeRegistry } from "../store/nodes.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";

/** Claims of a node id that lost a race to another write before giving up. */
export const CLAIM_ATTEMPTS = 5;

/**
 * The start of a process was refused: another running process has the same node id on this KV.
 * Its message says what to do.
 */
export class NodeIdInUseError extends Error {
  /** Another process holds `node` (its record changed within `waitedMs`). */
  constructor(readonly node: string, waitedMs: number) {
    super(
      `node.id "${node}" is in use by another running engine on this KV (its heartbeat record ` +
        `changed under another process's token, ${waitedMs} ms into this start): two processes ` +
        `with one node id deliver every queue twice. Give each process sharing the KV its own node.id ` +
        `(a copied config keeps the original's), or stop the other process first`,
    );
    this.name = "NodeIdInUseError";
  }
}

/** How long to watch a record not stopped cleanly: its writer's heartbeat interval + margin. */
export function claimWaitMs(record: NodeRecord, fallbackHeartbeatMs: number): number {
  const lease = record.leaseMs > 0 ? record.leaseMs : Infinity;
  const beat = record.heartbeatMs && record.heartbeatMs > 0
    ? record.heartbeatMs
    : Math.min(fallbackHeartbeatMs, lease / 3);
  // Never longer than its lease: unchanged that long, it is dead by everyone's judgement.
  return Math.round(Math.min(beat + Math.max(500, beat / 2), lease));
}

/** The default heartbeat interval for a lease: the supervisor's membership look. */
export function defaultHeartbeatMs(leaseMs: number): number {
  return Math.max(1, Math.min(1000, Math.floor(leaseMs / 3)));
}

/** Refuses this start (logged once, then thrown): another process holds the node id. */
export function refuseNodeId(node: string, waitedMs: number, log: Logger | undefined): never {
  const error = new NodeIdInUseError(node, waitedMs);
  log?.error("cluster.node-id-in-use", {
    node,
    action: "start refused",
    hint: "give each process sharing the KV its own node.id (a copied config keeps the " +
      "original's), or stop the other process first",
  });
  throw error;
}

/** What {@link watchPredecessor} needs. */
export interface WatchOptions {
  registry: NodeRegistry;
  node: string;
  /** This process holds the node id's OS lock on a local KV file: nobody else can run. */
  exclusive: boolean;
  /** This process's heartbeat interval, for a record that does not say its writer's. */
  heartbeatMs: number;
  /** Paces the watch. */
  clock: Pick<Clock, "sleep">;
  /** How long the watch took, for the log. */
  monotonic(): number;
  log?: Logger;
}

/**
 * Watches `first`, a record not stopped cleanly: throws {@link NodeIdInUseError} when it changes
 * under another token, returns what to write over when it stays unchanged (its writer is gone) or
 * is stopped (or removed) meanwhile.
 */
export async function watchPredecessor(
  first: NodeEntry,
  options: WatchOptions,
): Promise<NodeEntry | undefined> {
  const { registry, node, log } = options;
  const from = options.monotonic();
  if (options.exclusive) {
    log?.info("cluster.node-id-taken-over", {
      node,
      waitedMs: 0,
      reason: "the previous process with this node id did not stop cleanly; this process holds " +
        "the node id's lock, so that one is gone",
    });
    return first;
  }
  const waitMs = claimWaitMs(first.record, options.heartbeatMs);
  const step = Math.max(10, Math.min(250, Math.ceil(waitMs / 6)));
  // Bounded by count: the sleeps (not the monotonic clock) pace the watch.
  for (let waited = 0; waited < waitMs;) {
    const ms = Math.min(step, waitMs - waited);
    await options.clock.sleep(ms);
    waited += ms;
    const now = await registry.entry(node);
    if (now?.versionstamp === first.versionstamp) continue;
    // Stopped cleanly (or removed) meanwhile: free.
    if (!now || now.record.stopped !== undefined) return now;
    refuseNodeId(node, waited, log);
  }
  log?.info("cluster.node-id-taken-over", {
    node,
    waitedMs: Math.round(options.monotonic() - from),
    reason: `the previous process with this node id did not stop cleanly and its heartbeat ` +
      `record did not change in ${waitMs} ms: it is gone (crashed or killed); start delayed ` +
      `by that wait`,
  });
  return first;
}
