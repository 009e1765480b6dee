/**
 * Cluster membership in KV: each engine process writes its heartbeat record (id, address,
 * version, start time, last seen, actors held, load, weight, newest id, the random token of the
 * process, a `stopped` mark once it stopped cleanly, and the actors its config can build).
 * Whether a node is live is judged by each reader on its own monotonic clock, from whether the
 * record *changes* (its versionstamp), never from the writer's wall-clock stamps: see
 * `actors/runtime/cluster.ts`.
 * Records carry no KV expiry (KV expires keys by the wall clock of whichever process reads or
 * cleans the file, so one node whose clock steps forward would delete everyone's heartbeat); the
 * readers delete the records that have stopped changing for long ({@link NodeRegistry.remove}).
 *
 * A process writes its own record only with a check that it is still the one it wrote last
 * ({@link NodeRegistry.write}): a second process started with the same node id is then noticed,
 * never written over (see `Cluster`, "one process per node id").
 * @module
 */

import { keyPart } from "./keys.ts";
import { withKvRetry } from "./kv.ts";

/** One engine process as its heartbeat describes it. */
export interface NodeRecord {
  id: string;
  /** Where operators (and a load balancer) reach it, when configured. */
  address?: string;
  /** The engine's release, build and Deno version (`engine/0.2.0 build/<commit> deno/2.9.6`). */
  version: string;
  startedAt: number;
  /** Its own wall clock at its last heartbeat: shown, and used to estimate its clock's offset. */
  lastSeen: number;
  /** Actors active on it at its last heartbeat. */
  actors: number;
  /** Writes waiting for a commit at its last heartbeat (how far behind KV it is). */
  load: number;
  /** Share of actors it takes in rendezvous hashing (default 1). */
  weight: number;
  /** Its lease lifetime: a record unchanged for this long means dead. */
  leaseMs: number;
  /**
   * The newest id its store has made: the others' ids are kept after it (queue order across a
   * sender's failover between nodes whose clocks differ). Absent from older engines' records.
   */
  newestId?: string;
  /**
   * A random token made by the process at start: two processes with one node id write different
   * ones. Absent from older engines' records.
   */
  instance?: string;
  /**
   * How often it heartbeats (ms, the longest recent gap between its heartbeats): how long a
   * process starting with the same node id waits to see whether this one is still running.
   */
  heartbeatMs?: number;
  /**
   * Its wall clock when it stopped cleanly (the last write of a process; shown only): the node
   * is not live, and a process starting with this node id starts at once.
   */
  stopped?: number;
  /**
   * The actor ids its config can build, as patterns (an id, or a prefix ending in `*`: see
   * `actors/runtime/serves.ts`): only nodes that serve an actor are given it. Absent from older
   * engines' records (and when the list is too long to carry): it serves everything.
   */
  serves?: string[];
}

/** A heartbeat record with its versionstamp: a new one at every heartbeat. */
export interface NodeEntry {
  record: NodeRecord;
  versionstamp: string;
}

// The membership keys live here with the registry (keys.ts is edited by many hands right now).
const NODE_PREFIX: Deno.KvKey = ["nodes"];
const nodeKey = (id: string): Deno.KvKey => [...NODE_PREFIX, keyPart(id)];

/** Reads and writes heartbeat records. */
export class NodeRegistry {
  readonly #kv: Deno.Kv;

  /** The registry in `kv`. */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Writes this node's heartbeat (no KV expiry: see the module doc). */
  async heartbeat(record: NodeRecord): Promise<void> {
    await withKvRetry(() => this.#kv.set(nodeKey(record.id), record));
  }

  /** One node's record with its versionstamp, if it has one. */
  async entry(id: string): Promise<NodeEntry | undefined> {
    const e = await withKvRetry(() => this.#kv.get<NodeRecord>(nodeKey(id)));
    return e.versionstamp === null ? undefined : { record: e.value, versionstamp: e.versionstamp };
  }

  /**
   * Writes `record` if its node's record is still the one with `versionstamp` (`null`: none);
   * returns the new versionstamp, or undefined when another write came first.
   */
  async write(record: NodeRecord, versionstamp: string | null): Promise<string | undefined> {
    const key = nodeKey(record.id);
    const result = await withKvRetry(() =>
      this.#kv.atomic().check({ key, versionstamp }).set(key, record).commit()
    );
    return result.ok ? result.versionstamp : undefined;
  }

  /** Notes that a process of `id` on this KV found its node id in use by another process. */
  markInUse(id: string, conflict: NodeIdConflict): void {
    let byNode = conflicts.get(this.#kv);
    if (!byNode) conflicts.set(this.#kv, byNode = new Map());
    byNode.set(id, conflict);
  }

  /** Every node with a record, live or not, by id. */
  async list(): Promise<NodeRecord[]> {
    return (await this.entries()).map((e) => e.record);
  }

  /** Every node's record with its versionstamp, by id. */
  async entries(): Promise<NodeEntry[]> {
    const out: NodeEntry[] = [];
    for await (const e of this.#kv.list<NodeRecord>({ prefix: NODE_PREFIX })) {
      out.push({ record: e.value, versionstamp: e.versionstamp });
    }
    return out.sort((a, b) => a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0);
  }

  /** Removes a node's record (a clean stop: the others rebalance at once). */
  async leave(id: string): Promise<void> {
    await withKvRetry(() => this.#kv.delete(nodeKey(id)));
  }

  /**
   * Removes a dead node's record if it is still the one read (`versionstamp`): a node that came
   * back meanwhile keeps its new heartbeat. True when removed.
   */
  async remove(id: string, versionstamp: string): Promise<boolean> {
    const key = nodeKey(id);
    const result = await withKvRetry(() =>
      this.#kv.atomic().check({ key, versionstamp }).delete(key).commit()
    );
    return result.ok;
  }
}

/** A process found its node id in use by another process (see `Cluster`). */
export interface NodeIdConflict {
  /** Its wall clock when it found out. */
  since: number;
  /** Why, in words for `/healthz`. */
  reason: string;
}

/** Conflicts noted in this process, by KV handle and node id (read by `/healthz`). */
const conflicts = new WeakMap<Deno.Kv, Map<string, NodeIdConflict>>();

/**
 * Whether a process of node `id` running in this process on `kv` gave up its node id to another
 * process with the same one (and stopped delivering): `/healthz` then fails.
 */
export function nodeIdInUse(kv: Deno.Kv, id: string): NodeIdConflict | undefined {
  return conflicts.get(kv)?.get(id);
}
