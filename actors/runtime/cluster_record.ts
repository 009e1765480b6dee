/**
 * What this node's heartbeat record says (see `cluster.ts`): its identity, version, load, weight
 * and lease, the newest id it made, its process's token, how often it beats, and the actors its
 * config can build — that list left out (the node then serves everything, as an older engine's
 * record says) when too long to carry, with one warning.
 * @module
 */

import type { NodeRecord } from "../store/nodes.ts";
import type { Logger } from "./log.ts";
import type { ClusterOptions } from "./cluster_options.ts";
import { defaultHeartbeatMs } from "./node_claim.ts";
import { SERVES_MAX_CHARS } from "./serves.ts";
import { engineVersionLine } from "./version.ts";

/** What this node serves, for its heartbeat: its config's patterns, unless too long to carry. */
export class ServedList {
  readonly #o: Pick<ClusterOptions, "node" | "serves">;
  readonly #log: () => Logger | undefined;
  /** This node's list was too long to carry (warned once). */
  #servesTooLarge = false;

  /** The list `o.serves` gives (read at each call) for `o.node`; warnings go to `log()`. */
  constructor(o: Pick<ClusterOptions, "node" | "serves">, log: () => Logger | undefined) {
    this.#o = o;
    this.#log = log;
  }

  /** What this node serves, for its heartbeat; undefined (everything) when too long to carry. */
  current(): string[] | undefined {
    const patterns = this.#o.serves?.();
    if (patterns === undefined) return undefined;
    const list = [...new Set(patterns)].sort();
    if (JSON.stringify(list).length <= SERVES_MAX_CHARS) {
      this.#servesTooLarge = false;
      return list;
    }
    if (!this.#servesTooLarge) {
      this.#servesTooLarge = true;
      this.#log()?.warn("cluster.serves-too-large", {
        node: this.#o.node,
        patterns: list.length,
        maxChars: SERVES_MAX_CHARS,
        action: "this node's heartbeat says it serves every actor (as an older engine's does): " +
          "an actor its config cannot build may be given to it and not drained",
      });
    }
    return undefined;
  }
}

/** What only the process writing the record knows. */
export interface RecordState {
  /** Its wall clock when the cluster view was made. */
  startedAt: number;
  /** Its random instance token. */
  instance: string;
  /** Recent gaps between its heartbeats (monotonic ms). */
  gaps: readonly number[];
  /** What it serves (see {@link ServedList}). */
  served: ServedList;
}

/** This node's heartbeat record as of now. */
export function heartbeatRecord(o: ClusterOptions, state: RecordState): NodeRecord {
  const { actors, load } = o.load();
  const newestId = o.ids?.newest();
  const serves = state.served.current();
  const configured = o.heartbeatMs ?? defaultHeartbeatMs(o.leaseMs);
  const heartbeatMs = Math.round(Math.min(
    Math.max(configured, ...state.gaps),
    o.leaseMs,
  ));
  return {
    id: o.node,
    ...(o.address ? { address: o.address } : {}),
    version: engineVersionLine(),
    startedAt: state.startedAt,
    lastSeen: o.now(),
    actors,
    load,
    weight: o.weight ?? 1,
    leaseMs: o.leaseMs,
    ...(newestId ? { newestId } : {}),
    instance: state.instance,
    heartbeatMs,
    ...(serves ? { serves } : {}),
  };
}
