/**
 * Cluster membership in KV: each engine process writes its heartbeat record (id, address,
 * version, start time, last seen, actors held, load, weight); a node whose heartbeat is older
 * than the lease lifetime is dead. The record expires from KV on its own some time after.
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
  lastSeen: number;
  /** Actors active on it at its last heartbeat. */
  actors: number;
  /** Writes waiting for a commit at its last heartbeat (how far behind KV it is). */
  load: number;
  /** Share of actors it takes in rendezvous hashing (default 1). */
  weight: number;
  /** Its lease lifetime: missing heartbeats for this long means dead. */
  leaseMs: number;
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

  /** Writes this node's heartbeat. */
  async heartbeat(record: NodeRecord): Promise<void> {
    await withKvRetry(() =>
      this.#kv.set(nodeKey(record.id), record, { expireIn: Math.max(60_000, record.leaseMs * 6) })
    );
  }

  /** Every node with a record, live or not, by id. */
  async list(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    for await (const e of this.#kv.list<NodeRecord>({ prefix: NODE_PREFIX })) out.push(e.value);
    return out.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** Removes a node's record (a clean stop: the others rebalance at once). */
  async leave(id: string): Promise<void> {
    await withKvRetry(() => this.#kv.delete(nodeKey(id)));
  }
}
