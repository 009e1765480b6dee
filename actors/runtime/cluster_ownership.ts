/**
 * Which live node each actor belongs to (see `cluster.ts`): the live nodes with their weights
 * and served lists, rendezvous hashing of an actor id over the ones that serve it (over every
 * live node when none does), and a cache of the answers kept until the live set, a weight or a
 * served list changes. Nothing here reads KV or runs per message.
 * @module
 */

import type { NodeRecord } from "../store/nodes.ts";
import { rendezvous } from "./rendezvous.ts";
import { servesKey, ServesMatcher } from "./serves.ts";

/** A live node as ownership sees it. */
interface LiveNode {
  id: string;
  weight: number;
  /** What it serves; undefined: everything. */
  serves?: ServesMatcher;
}

/** An actor's owner, and whether a live node serves it. */
export interface Ownership {
  /** The live node it belongs to. */
  owner: string;
  /** Some live node serves it (else `owner` is from every live node: none can build it). */
  served: boolean;
}

/** Owners cached past this many actor ids are forgotten at once (recomputed on demand). */
const OWNERS_CACHED = 50_000;

/** The live nodes and who owns what among them; this node alone until {@link update}. */
export class Owners {
  #live: LiveNode[];
  /** What identifies `#live` (ids, weights, served lists): ownership changes with it. */
  #liveKey = "";
  /** Each actor's owner (and whether a live node serves it) under `#live`. */
  readonly #owners = new Map<string, Ownership>();
  /** Matchers built from the nodes' lists, by node id, with the list's key. */
  readonly #matchers = new Map<string, { key: string; matcher: ServesMatcher }>();

  /** Ownership with `node` (of `weight`, serving everything) as the only live node. */
  constructor(node: string, weight: number) {
    this.#live = [{ id: node, weight }];
    this.#liveKey = `${node}\u0000${weight}\u0000${servesKey(undefined)}`;
  }

  /** Ids of the live nodes, in the order last given to {@link update}. */
  get liveIds(): string[] {
    return this.#live.map((n) => n.id);
  }

  /** True while more than one node is live. Read per message: no copy. */
  get shared(): boolean {
    return this.#live.length > 1;
  }

  /**
   * Takes `records`, the live nodes' heartbeat records, as the live set; true when it differs
   * from the previous one (ids, weights or served lists): the cached owners are then forgotten.
   */
  update(records: readonly NodeRecord[]): boolean {
    const live: LiveNode[] = [];
    const keys: string[] = [];
    for (const record of records) {
      const weight = record.weight > 0 ? record.weight : 1;
      const key = servesKey(record.serves);
      keys.push(`${record.id}\u0000${weight}\u0000${key}`);
      live.push({ id: record.id, weight, ...this.#matcher(record.id, record.serves, key) });
    }
    const liveKey = keys.join("\n");
    const changed = liveKey !== this.#liveKey;
    if (changed) {
      this.#live = live;
      this.#liveKey = liveKey;
      this.#owners.clear();
    }
    for (const id of this.#matchers.keys()) {
      if (!live.some((n) => n.id === id)) this.#matchers.delete(id);
    }
    return changed;
  }

  /** `actor`'s owner under the current live nodes, cached until they change. */
  of(actor: string): Ownership {
    let found = this.#owners.get(actor);
    if (found) return found;
    const serving = this.#live.filter((n) => !n.serves || n.serves.has(actor));
    found = serving.length > 0
      ? { owner: rendezvous(actor, serving), served: true }
      : { owner: rendezvous(actor, this.#live), served: false };
    if (this.#owners.size >= OWNERS_CACHED) this.#owners.clear();
    this.#owners.set(actor, found);
    return found;
  }

  /** The matcher of a node's list, rebuilt only when the list changes. */
  #matcher(
    node: string,
    serves: readonly string[] | undefined,
    key: string,
  ): { serves?: ServesMatcher } {
    if (serves === undefined) return {};
    const known = this.#matchers.get(node);
    if (known?.key === key) return { serves: known.matcher };
    const matcher = new ServesMatcher(serves);
    this.#matchers.set(node, { key, matcher });
    return { serves: matcher };
  }
}
