/**
 * The shapes of scale-out membership (see `cluster.ts`): what a cluster view is made of, the ids its heartbeat reads and raises, and a node as `GET /admin/nodes` shows it.
 * Types only: `cluster.ts` re-exports them.
 * @module
 */

import type { NodeRecord, NodeRegistry } from "../store/nodes.ts";
import type { Logger } from "./log.ts";
import type { Clock } from "./clock.ts";

/** The ids a node makes, as its heartbeat reads and raises them (the store's `IdGenerator`). */
export interface ClusterIds {
  /** The newest id made so far. */
  newest(): string | undefined;
  /** Keeps later ids after `id`. */
  observe(id: string): void;
}

/** What a `Cluster` (cluster.ts) is made of. */
export interface ClusterOptions {
  /** The heartbeat records in KV. */
  registry: NodeRegistry;
  /** This node's id (config `node.id`). */
  node: string;
  /** Where operators reach this node, carried in its record. */
  address?: string;
  /** Default 1. */
  weight?: number;
  /** The lease lifetime: a record unchanged this long is dead. */
  leaseMs: number;
  /** Wall clock: the stamps this node writes (shown, and used for offset estimates only). */
  now: () => number;
  /** Elapsed time that liveness is judged on, default `performance.now` (monotonic). */
  monotonic?: () => number;
  /**
   * This node's ids (the store's generator): the heartbeat carries the newest and raises them
   * past the other nodes'. Without them the heartbeat carries no id.
   */
  ids?: ClusterIds;
  /** Where `cluster.clock-skew` goes (the supervisor attaches its own when not given). */
  log?: Logger;
  /** Actors active and writes waiting, for the heartbeat. */
  load: () => { actors: number; load: number };
  /**
   * How often the heartbeat is written, default a third of the lease but at most 1 s (the
   * supervisor's membership look): carried in the record (raised to the longest recent gap seen)
   * for a process starting with this node id to wait for.
   */
  heartbeatMs?: number;
  /** Sleeps of the start's wait for a predecessor's heartbeat, default the system clock. */
  clock?: Pick<Clock, "sleep">;
  /**
   * The node id is held by this process by other means (the OS lock `serve` takes on a local KV
   * file): a record not stopped cleanly is a predecessor's that died, taken over without waiting.
   */
  exclusive?: boolean;
  /**
   * The actor ids this node's config can build, as patterns (see `serves.ts`), read at every
   * heartbeat (a reload changes them). Without it the node serves everything.
   */
  serves?: () => readonly string[];
}

/** A node as `GET /admin/nodes` shows it. */
export interface NodeView extends NodeRecord {
  /** Judged live by this process. */
  live: boolean;
  /** This process. */
  self: boolean;
  /**
   * Estimated offset of its wall clock from this process's (positive: ahead), from the stamp of
   * its last heartbeat seen changing and the local time it was first seen. 0 for `self`; absent
   * until a change of its record has been seen.
   */
  clockOffsetMs?: number;
}
