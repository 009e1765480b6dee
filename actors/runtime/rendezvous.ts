/**
 * Weighted rendezvous (highest random weight) hashing: which of a set of nodes an actor id goes
 * to. Pure and stable: the same id over the same nodes always gives the same node, and a node
 * joining or leaving moves only the ids it wins or won (see `cluster.ts`).
 * @module
 */

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
