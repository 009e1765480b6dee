/**
 * Cluster membership in KV: each engine process writes its heartbeat record (id, address,
 * version, start time, last seen, actors held, load, weight, newest id). Whether a node is live is
 * judged by each reader on its own monotonic clock, from whether the record *changes* (its
 * versionstamp), never from the writer's wall-clock stamps: see `actors/runtime/cluster.ts`.
 * Records carry no KV expiry (KV expires keys by the wall clock of whichever process reads or
 * cleans the file, so one node whose clock steps forward would delete everyone's heartbeat); the
 * readers delete the records that have stopped changing for long ({@link NodeRegistry.remove}).
 * @module
 */

import { keyPart } from "./keys.ts";
import { withKvRetry } from "./kv.ts";

/** One engine process as its heartbeat describes it. */
export interface NodeRecord {
  id: string;
  /** Where operators (and a load balancer) reach it, when configured. */
  address?: string;
  /** The engine's version (Deno's, and the protocol of this record). */
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
