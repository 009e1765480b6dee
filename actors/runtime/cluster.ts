/**
 * Scale-out membership and balance: this node's heartbeat, the live nodes it sees, and which of
 * them an actor belongs to — rendezvous (highest random weight) hashing of the actor id over the
 * live nodes, weighted by capacity. When a node joins or leaves, only the actors whose highest
 * score moves change hands, and a restart of one node under the same id changes nothing.
 * @module
 */

import type { NodeRecord, NodeRegistry } from "../store/nodes.ts";

/** What a {@link Cluster} is made of. */
export interface ClusterOptions {
  registry: NodeRegistry;
  node: string;
  address?: string;
  /** Default 1. */
  weight?: number;
  leaseMs: number;
  now: () => number;
  /** Actors active and writes waiting, for the heartbeat. */
  load: () => { actors: number; load: number };
}

/** A node as `GET /admin/nodes` shows it. */
export interface NodeView extends NodeRecord {
  live: boolean;
  /** This process. */
  self: boolean;
}

/** See the module doc. */
export class Cluster {
  readonly #o: ClusterOptions;
  readonly #startedAt: number;
  #live: { id: string; weight: number }[];
  #seen: NodeRecord[] = [];

  /** A cluster view that, until the first {@link refresh}, holds this node alone. */
  constructor(options: ClusterOptions) {
    this.#o = options;
    this.#startedAt = options.now();
    this.#live = [{ id: options.node, weight: options.weight ?? 1 }];
  }

  /** This node's id. */
  get node(): string {
    return this.#o.node;
  }

  /** Ids of the live nodes, sorted. */
  get liveIds(): string[] {
    return this.#live.map((n) => n.id);
  }

  /**
   * True while other live nodes share the KV with this one: they commit to the same queues, and
   * a commit of theirs may land after this node's with an older seq. Read per message: no copy.
   */
  get shared(): boolean {
    return this.#live.length > 1;
  }

  /**
   * Writes this node's heartbeat and reads everyone's; true when the set of live nodes changed
   * (actors may have to move).
   */
  async refresh(): Promise<boolean> {
    const now = this.#o.now();
    const { actors, load } = this.#o.load();
    await this.#o.registry.heartbeat({
      id: this.#o.node,
      ...(this.#o.address ? { address: this.#o.address } : {}),
      version: `engine/1 deno/${Deno.version.deno}`,
      startedAt: this.#startedAt,
      lastSeen: now,
      actors,
      load,
      weight: this.#o.weight ?? 1,
      leaseMs: this.#o.leaseMs,
    });
    this.#seen = await this.#o.registry.list();
    const live = this.#seen
      .filter((n) => n.id === this.#o.node || now - n.lastSeen < n.leaseMs)
      .map((n) => ({ id: n.id, weight: n.weight > 0 ? n.weight : 1 }));
    const before = this.liveIds.join("\n");
    this.#live = live;
    return this.liveIds.join("\n") !== before;
  }

  /** Every node with a heartbeat record, and whether it is live. */
  async nodes(): Promise<NodeView[]> {
    const now = this.#o.now();
    const records = await this.#o.registry.list();
    return records.map((n) => ({
      ...n,
      live: now - n.lastSeen < n.leaseMs,
      self: n.id === this.#o.node,
    }));
  }

  /** The live node `actor` belongs to. */
  ownerOf(actor: string): string {
    return rendezvous(actor, this.#live);
  }

  /** True when `actor` belongs to this node. */
  isMine(actor: string): boolean {
    return this.ownerOf(actor) === this.#o.node;
  }

  /** Removes this node's record (a clean stop), so the others take its actors at once. */
  async leave(): Promise<void> {
    await this.#o.registry.leave(this.#o.node);
  }
}

/**
 * Weighted rendezvous hashing: each node scores `-weight / ln(h)` with `h` a hash of node and
 * actor in (0, 1); the highest score wins. Adding or removing a node moves only the actors it
 * wins or won.
 */
export function rendezvous(
  actor: string,
  nodes: readonly { id: string; weight: number }[],
): string {
  let best = "";
  let bestScore = -Infinity;
  for (const n of nodes) {
    const h = (hash32(`${n.id}\u0000${actor}`) + 0.5) / 4294967296;
    const score = -n.weight / Math.log(h);
    if (score > bestScore || (score === bestScore && n.id < best)) {
      best = n.id;
      bestScore = score;
    }
  }
  return best;
}

/** FNV-1a over UTF-16 code units, then a murmur3 finalizer so nearby strings spread. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
