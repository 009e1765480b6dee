/**
 * Scale-out membership and balance: this node's heartbeat, the live nodes it sees, and which of
 * them an actor belongs to — rendezvous (highest random weight) hashing of the actor id over the
 * live nodes, weighted by capacity. When a node joins or leaves, only the actors whose highest
 * score moves change hands, and a restart of one node under the same id changes nothing.
 *
 * Liveness is judged on this process's monotonic clock, never from another node's wall-clock
 * stamp: a node is live while its heartbeat record keeps changing (a new versionstamp), and dead
 * once it has not changed for its lease lifetime as measured here (a record first seen counts as
 * changed then). A node whose clock steps, or runs an hour off, is judged like any other. The
 * stamps only serve to estimate each node's clock offset (shown on `GET /admin/nodes`, and logged
 * as `cluster.clock-skew` past a third of a lease), and the heartbeat carries the newest id the
 * node made, which every other node's ids are then kept after (see `IdGenerator.observe`); while
 * a node's clock is certainly ahead of this one's, this node's ids are also kept after what that
 * clock can reach before the next heartbeat. Nothing of this runs per message.
 * @module
 */

import type { NodeEntry, NodeRecord, NodeRegistry } from "../store/nodes.ts";
import { idFloor, idTime } from "../store/ids.ts";
import type { Logger } from "./log.ts";

/** The ids a node makes, as its heartbeat reads and raises them (the store's `IdGenerator`). */
export interface ClusterIds {
  /** The newest id made so far. */
  newest(): string | undefined;
  /** Keeps later ids after `id`. */
  observe(id: string): void;
}

/** What a {@link Cluster} is made of. */
export interface ClusterOptions {
  registry: NodeRegistry;
  node: string;
  address?: string;
  /** Default 1. */
  weight?: number;
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
}

/** A node as `GET /admin/nodes` shows it. */
export interface NodeView extends NodeRecord {
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

/** What this process has seen of another node's heartbeat record. */
interface Seen {
  versionstamp: string;
  /** Monotonic time at which this process first saw this versionstamp. */
  at: number;
  offsetMs?: number;
  /** A skew episode is under way (logged once; over when the offset falls under half the limit). */
  skewed: boolean;
  idsAhead: boolean;
}

interface Judged {
  entry: NodeEntry;
  live: boolean;
  /** Its record changed since the previous read. */
  changed: boolean;
  offsetMs?: number;
}

/** A record unchanged this long (and at least six of its leases) is removed from KV. */
const FORGET_AFTER_MS = 60_000;

/** See the module doc. */
export class Cluster {
  readonly #o: ClusterOptions;
  readonly #startedAt: number;
  readonly #monotonic: () => number;
  #log: Logger | undefined;
  #live: { id: string; weight: number }[];
  readonly #seen = new Map<string, Seen>();
  /** Monotonic and wall time of the last read of the records (offsets are estimated from it). */
  #lastRead: { mono: number; wall: number } | undefined;
  /** Monotonic time of the last {@link refresh}. */
  #lastRefresh: number | undefined;

  /** A cluster view that, until the first {@link refresh}, holds this node alone. */
  constructor(options: ClusterOptions) {
    this.#o = options;
    this.#startedAt = options.now();
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#log = options.log;
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

  /** Sends `cluster.clock-skew` warnings to `log` unless the options named a logger. */
  attachLog(log: Logger): void {
    this.#log ??= log;
  }

  /**
   * Writes this node's heartbeat and reads everyone's; true when the set of live nodes changed
   * (actors may have to move).
   */
  async refresh(): Promise<boolean> {
    const now = this.#o.now();
    const { actors, load } = this.#o.load();
    const ids = this.#o.ids;
    const newestId = ids?.newest();
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
      ...(newestId ? { newestId } : {}),
    });
    const judged = await this.#read();
    const mono = this.#monotonic();
    const wall = this.#o.now();
    // Until the next refresh, about as long as since the last one (at most a lease).
    const interval = this.#lastRefresh === undefined
      ? 0
      : Math.min(Math.max(0, mono - this.#lastRefresh), this.#o.leaseMs);
    this.#lastRefresh = mono;
    const live: { id: string; weight: number }[] = [];
    for (const { entry: { record }, live: isLive, changed } of judged) {
      if (record.id !== this.#o.node && ids) {
        // Another node's ids: this node's are kept after them, whatever the two clocks say —
        // after its whole millisecond: ids it made ahead of its clock (after a forward step) stay
        // in that millisecond, their counter running on until its clock catches up.
        if (record.newestId) ids.observe(record.newestId.slice(0, 11));
        // Its clock certainly ahead of this one (its stamp, written before this read, is later
        // than now here): this node's ids are also kept after any it can make before the next
        // refresh — its clock is at most `interval` past its stamp now, and moves `interval` on —
        // so a sender failing over from it at once does not see its next message sort first.
        if (changed && isLive && interval > 0 && record.lastSeen > wall) {
          ids.observe(idFloor(record.lastSeen + 2 * interval));
        }
      }
      if (isLive) live.push({ id: record.id, weight: record.weight > 0 ? record.weight : 1 });
    }
    const before = this.liveIds.join("\n");
    this.#live = live;
    return this.liveIds.join("\n") !== before;
  }

  /** Every node with a heartbeat record, whether it is live, and its estimated clock offset. */
  async nodes(): Promise<NodeView[]> {
    return (await this.#read()).map(({ entry: { record }, live, offsetMs }) => ({
      ...record,
      live,
      self: record.id === this.#o.node,
      ...(offsetMs !== undefined ? { clockOffsetMs: offsetMs } : {}),
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

  /**
   * Reads every record and judges it: live while its versionstamp changed less than a lease ago
   * by this process's monotonic clock. Records unchanged for long are removed from KV.
   */
  async #read(): Promise<Judged[]> {
    const entries = await this.#o.registry.entries();
    const mono = this.#monotonic();
    const wall = this.#o.now();
    // A change seen now was written since the last read: its midpoint estimates when.
    const writtenAt = this.#lastRead ? wall - (mono - this.#lastRead.mono) / 2 : wall;
    this.#lastRead = { mono, wall };
    const present = new Set<string>();
    const out: Judged[] = [];
    const stale: NodeEntry[] = [];
    for (const entry of entries) {
      const { record, versionstamp } = entry;
      present.add(record.id);
      if (record.id === this.#o.node) {
        out.push({ entry, live: true, changed: true, offsetMs: 0 });
        continue;
      }
      let seen = this.#seen.get(record.id);
      const fresh = !seen || seen.versionstamp !== versionstamp;
      if (!seen || seen.versionstamp !== versionstamp) {
        const changed = seen !== undefined;
        seen = { ...(seen ?? { skewed: false, idsAhead: false }), versionstamp, at: mono };
        if (changed) seen.offsetMs = Math.round(record.lastSeen - writtenAt);
        this.#checkSkew(record, seen, wall);
        this.#seen.set(record.id, seen);
      }
      const leaseMs = record.leaseMs > 0 ? record.leaseMs : this.#o.leaseMs;
      const silentMs = mono - seen.at;
      out.push({
        entry,
        live: silentMs < leaseMs,
        changed: fresh,
        ...(seen.offsetMs !== undefined ? { offsetMs: seen.offsetMs } : {}),
      });
      if (silentMs >= Math.max(FORGET_AFTER_MS, leaseMs * 6)) stale.push(entry);
    }
    for (const id of this.#seen.keys()) if (!present.has(id)) this.#seen.delete(id);
    for (const { record, versionstamp } of stale) {
      // Checked against the versionstamp read: a node that came back keeps its new heartbeat.
      if (await this.#o.registry.remove(record.id, versionstamp).catch(() => false)) {
        this.#seen.delete(record.id);
      }
    }
    return out;
  }

  /** Logs `cluster.clock-skew` once per episode of a node's clock (or ids) off by a third lease. */
  #checkSkew(record: NodeRecord, seen: Seen, wall: number): void {
    const limit = this.#o.leaseMs / 3;
    const offset = seen.offsetMs;
    if (offset !== undefined) {
      if (Math.abs(offset) > limit && !seen.skewed) {
        seen.skewed = true;
        this.#log?.warn("cluster.clock-skew", {
          node: record.id,
          offsetMs: offset,
          source: "heartbeat",
          limitMs: Math.round(limit),
        });
      } else if (Math.abs(offset) < limit / 2) seen.skewed = false;
    }
    if (record.newestId) {
      // Ids ahead of this clock: a clock stepped forward on some node (ids never go back).
      const ahead = Math.round(idTime(record.newestId) - wall);
      if (ahead > limit && !seen.idsAhead) {
        seen.idsAhead = true;
        this.#log?.warn("cluster.clock-skew", {
          node: record.id,
          offsetMs: ahead,
          source: "ids",
          limitMs: Math.round(limit),
        });
      } else if (ahead < limit / 2) seen.idsAhead = false;
    }
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
