/**
 * What a node can serve in scale-out: the actor ids its config can build, as a compact list of
 * patterns carried in its heartbeat record (`NodeRecord.serves`). A pattern is an actor id, or a
 * prefix ending in `*` (`mllp-in:2575:*`: every peer of local port 2575). Only nodes that serve
 * an actor are candidates for it in rendezvous hashing (see `Cluster.ownerOf`); a record without
 * the list (an older engine) serves everything, as before.
 * @module
 */

/** Serialized patterns past this many characters are not carried (the node serves everything). */
export const SERVES_MAX_CHARS = 32 * 1024;

/** Which actor ids a list of patterns covers; built once per list, asked per activation. */
export class ServesMatcher {
  readonly #exact = new Set<string>();
  readonly #prefixes: string[] = [];

  /** A matcher for `patterns` (ids, or prefixes ending in `*`). */
  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      if (p.endsWith("*")) this.#prefixes.push(p.slice(0, -1));
      else this.#exact.add(p);
    }
  }

  /** True when `actor` is one of the ids or starts with one of the prefixes. */
  has(actor: string): boolean {
    if (this.#exact.has(actor)) return true;
    for (const p of this.#prefixes) if (actor.startsWith(p)) return true;
    return false;
  }
}

/** A key that changes exactly when what a list serves changes (`*` for "everything"). */
export function servesKey(patterns: readonly string[] | undefined): string {
  return patterns === undefined ? "*" : JSON.stringify([...new Set(patterns)].sort());
}
