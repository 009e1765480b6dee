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
 *
 * One process per node id: two processes with one node id on a shared KV (a config copied to a
 * second host) would both take that node's leases as their own and deliver every queue twice.
 * Each process makes a random instance token at start and its heartbeat carries it; it writes
 * its record only with a check that the record is still the one it wrote last. Its first
 * {@link Cluster.refresh} (the supervisor's, before any lease is taken or actor started) claims the
 * node id: no record, or one marked `stopped` by a clean stop ({@link Cluster.leave}), and it
 * starts at once; otherwise it watches the record for about one heartbeat interval of the process
 * that wrote it plus a margin (on this process's monotonic clock: no clocks compared), and if the
 * record changes under another token, the start is refused (ERROR `cluster.node-id-in-use`, and a
 * {@link NodeIdInUseError} thrown); unchanged, its writer is gone (crashed or killed) and the node
 * starts, saying so at info (`cluster.node-id-taken-over`, with the time waited). While running,
 * a heartbeat that finds the record written under another token (a process started meanwhile,
 * e.g. while this one was cut off from KV) fences this process: ERROR `cluster.node-id-in-use`,
 * no more heartbeats, {@link Cluster.isMine} false for every actor (the supervisor hands them all
 * over: each finishes its message in flight, then its lease is released), and `/healthz` failing
 * (`nodeIdInUse` of `actors/store/nodes.ts`). It stays so until restarted. While a heartbeat of this process is
 * unconfirmed for as long as a newcomer waits (KV unreachable), it takes no new actor either: a
 * newcomer may have judged it gone meanwhile.
 *
 * Nodes with different configs (two processes on one host have their own MLLP ports): each
 * heartbeat carries what its config can build ({@link ClusterOptions.serves}, the record's
 * `serves`), and an actor is hashed only over the live nodes that serve it — an inbound queue of
 * port P goes to a node listening on P whatever the hash says of the others. A record without
 * the list (an older engine) serves everything. An actor no live node serves falls back to the
 * hash over every live node (none can build it: as before) and {@link Cluster.served} says so
 * (the supervisor warns of its queue). Owners are cached until the membership or a node's list
 * changes: nothing of this runs per message.
 * @module
 */

import type { NodeEntry, NodeRecord, NodeRegistry } from "../store/nodes.ts";
import { idFloor, idTime } from "../store/ids.ts";
import type { Logger } from "./log.ts";
import { type Clock, systemClock } from "./clock.ts";
import {
  CLAIM_ATTEMPTS,
  claimWaitMs,
  defaultHeartbeatMs,
  NodeIdInUseError,
  refuseNodeId,
  watchPredecessor,
} from "./node_claim.ts";
import { SERVES_MAX_CHARS, servesKey, ServesMatcher } from "./serves.ts";
import { engineVersionLine } from "./version.ts";

export { claimWaitMs, NodeIdInUseError };

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

/** A live node as ownership sees it. */
interface LiveNode {
  id: string;
  weight: number;
  /** What it serves; undefined: everything. */
  serves?: ServesMatcher;
}

/** Owners cached past this many actor ids are forgotten at once (recomputed on demand). */
const OWNERS_CACHED = 50_000;

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
/** Longest gaps between heartbeats kept to say how often this process beats. */
const GAPS_KEPT = 16;
/** See the module doc. */
export class Cluster {
  readonly #o: ClusterOptions;
  readonly #startedAt: number;
  readonly #monotonic: () => number;
  #log: Logger | undefined;
  #live: LiveNode[];
  /** What identifies `#live` (ids, weights, served lists): ownership changes with it. */
  #liveKey = "";
  /** Each actor's owner (and whether a live node serves it) under `#live`. */
  readonly #owners = new Map<string, { owner: string; served: boolean }>();
  /** Matchers built from the nodes' lists, by node id, with the list's key. */
  readonly #matchers = new Map<string, { key: string; matcher: ServesMatcher }>();
  /** This node's list was too long to carry (warned once). */
  #servesTooLarge = false;
  readonly #seen = new Map<string, Seen>();
  /** Monotonic and wall time of the last read of the records (offsets are estimated from it). */
  #lastRead: { mono: number; wall: number } | undefined;
  /** Monotonic time of the last {@link refresh}. */
  #lastRefresh: number | undefined;
  /** This process's random token (see the module doc). */
  readonly #instance = crypto.randomUUID();
  /** The node id was claimed at start (see the module doc). */
  #claimed = false;
  /** The versionstamp of this process's last write of its record (null: none expected). */
  #mine: string | null = null;
  /** Another process holds this node id: this one is fenced for good. */
  #inUse: { since: number; by?: string } | undefined;
  /** Monotonic start of the oldest heartbeat write not yet confirmed. */
  #unconfirmedSince: number | undefined;
  /** Recent gaps between heartbeats (monotonic ms). */
  readonly #gaps: number[] = [];
  #lastBeat: number | undefined;
  /** The record as last written by this process (the `stopped` mark repeats it). */
  #record: NodeRecord | undefined;

  /** A cluster view that, until the first {@link refresh}, holds this node alone. */
  constructor(options: ClusterOptions) {
    this.#o = options;
    this.#startedAt = options.now();
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#log = options.log;
    this.#live = [{ id: options.node, weight: options.weight ?? 1 }];
    this.#liveKey = `${options.node}\u0000${options.weight ?? 1}\u0000${servesKey(undefined)}`;
  }

  /** This node's id. */
  get node(): string {
    return this.#o.node;
  }

  /** This process's random instance token. */
  get instance(): string {
    return this.#instance;
  }

  /**
   * Set once another process was found holding this node id while this one ran: this process
   * takes no actor any more (see the module doc).
   */
  get fenced(): boolean {
    return this.#inUse !== undefined;
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
    // The first one claims the node id (throws NodeIdInUseError if another process holds it).
    if (!this.#claimed) await this.#claim();
    const ids = this.#o.ids;
    let fencedNow = false;
    if (!this.#inUse) fencedNow = !(await this.#beat());
    const judged = await this.#read();
    const mono = this.#monotonic();
    const wall = this.#o.now();
    // Until the next refresh, about as long as since the last one (at most a lease).
    const interval = this.#lastRefresh === undefined
      ? 0
      : Math.min(Math.max(0, mono - this.#lastRefresh), this.#o.leaseMs);
    this.#lastRefresh = mono;
    const live: LiveNode[] = [];
    const keys: string[] = [];
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
      if (!isLive) continue;
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
    // Fenced: every actor is someone else's now (the supervisor hands them over on a change).
    return fencedNow || changed;
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

  /** What this node serves, for its heartbeat; undefined (everything) when too long to carry. */
  #serves(): string[] | undefined {
    const patterns = this.#o.serves?.();
    if (patterns === undefined) return undefined;
    const list = [...new Set(patterns)].sort();
    if (JSON.stringify(list).length <= SERVES_MAX_CHARS) {
      this.#servesTooLarge = false;
      return list;
    }
    if (!this.#servesTooLarge) {
      this.#servesTooLarge = true;
      this.#log?.warn("cluster.serves-too-large", {
        node: this.#o.node,
        patterns: list.length,
        maxChars: SERVES_MAX_CHARS,
        action: "this node's heartbeat says it serves every actor (as an older engine's does): " +
          "an actor its config cannot build may be given to it and not drained",
      });
    }
    return undefined;
  }

  /** This node's heartbeat record as of now. */
  #heartbeat(): NodeRecord {
    const { actors, load } = this.#o.load();
    const newestId = this.#o.ids?.newest();
    const serves = this.#serves();
    const configured = this.#o.heartbeatMs ?? defaultHeartbeatMs(this.#o.leaseMs);
    const heartbeatMs = Math.round(Math.min(
      Math.max(configured, ...this.#gaps),
      this.#o.leaseMs,
    ));
    return {
      id: this.#o.node,
      ...(this.#o.address ? { address: this.#o.address } : {}),
      version: engineVersionLine(),
      startedAt: this.#startedAt,
      lastSeen: this.#o.now(),
      actors,
      load,
      weight: this.#o.weight ?? 1,
      leaseMs: this.#o.leaseMs,
      ...(newestId ? { newestId } : {}),
      instance: this.#instance,
      heartbeatMs,
      ...(serves ? { serves } : {}),
    };
  }

  /**
   * Writes this node's heartbeat over the record this process wrote last; false (and this process
   * fenced) when another process has written it since.
   */
  async #beat(): Promise<boolean> {
    const registry = this.#o.registry;
    const started = this.#monotonic();
    this.#unconfirmedSince ??= started;
    if (this.#lastBeat !== undefined) {
      this.#gaps.push(started - this.#lastBeat);
      if (this.#gaps.length > GAPS_KEPT) this.#gaps.shift();
    }
    this.#lastBeat = started;
    const record = this.#heartbeat();
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const written = await registry.write(record, this.#mine);
      if (written !== undefined) {
        this.#mine = written;
        this.#record = record;
        this.#unconfirmedSince = undefined;
        return true;
      }
      const found = await registry.entry(this.#o.node);
      if (found && found.record.instance !== this.#instance) {
        this.#fence(found.record);
        return false;
      }
      // Removed by a reader that judged this node dead (it was silent for long), or written by
      // this process itself (a commit retried after its answer was lost): written over.
      this.#mine = found?.versionstamp ?? null;
    }
    throw new Error(`the heartbeat record of node ${this.#o.node} kept changing under its write`);
  }

  /** Another process holds this node id: stops claiming actors, for good. */
  #fence(other: NodeRecord): void {
    this.#inUse = { since: this.#o.now(), ...(other.instance ? { by: other.instance } : {}) };
    this.#o.registry.markInUse(this.#o.node, {
      since: this.#inUse.since,
      reason: `node.id "${this.#o.node}" is in use by another process (started ` +
        `${new Date(other.startedAt).toISOString()} by its clock): this one stopped delivering. ` +
        "Give each process its own node.id, then restart this one",
    });
    this.#log?.error("cluster.node-id-in-use", {
      node: this.#o.node,
      other: { startedAt: new Date(other.startedAt).toISOString(), address: other.address },
      action: "fenced: this process stopped delivering (its actors hand over, their leases are " +
        "released, /healthz fails) and sends no more heartbeats",
      hint: "give each process sharing the KV its own node.id (a copied config keeps the " +
        "original's), then restart this process; or stop the other one",
    });
  }

  /**
   * Claims this node id at start (see the module doc): at once when its record is missing or
   * stopped cleanly, else after watching it for a heartbeat interval plus margin.
   */
  async #claim(): Promise<void> {
    const registry = this.#o.registry;
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      let found = await registry.entry(this.#o.node);
      if (found && found.record.stopped === undefined) {
        found = await watchPredecessor(found, {
          registry,
          node: this.#o.node,
          exclusive: this.#o.exclusive === true,
          heartbeatMs: this.#o.heartbeatMs ?? defaultHeartbeatMs(this.#o.leaseMs),
          clock: this.#o.clock ?? systemClock,
          monotonic: () => this.#monotonic(),
          ...(this.#log ? { log: this.#log } : {}),
        });
      }
      const record = this.#heartbeat();
      const written = await registry.write(record, found?.versionstamp ?? null);
      if (written !== undefined) {
        this.#mine = written;
        this.#record = record;
        this.#lastBeat = this.#monotonic();
        this.#claimed = true;
        return;
      }
      // Another write came between the read and this one: looked at again (a process starting
      // at the same moment with this node id then holds it, and this start is refused).
    }
    refuseNodeId(this.#o.node, 0, this.#log);
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

  /**
   * The live node `actor` belongs to: rendezvous over the live nodes that serve it (over every
   * live node when none does).
   */
  ownerOf(actor: string): string {
    return this.#ownership(actor).owner;
  }

  /**
   * Whether some live node serves `actor` (its config can build it, or its record does not say:
   * an older engine). False: no running node can drain its queue.
   */
  served(actor: string): boolean {
    return this.#ownership(actor).served;
  }

  /** `actor`'s owner under the current live nodes, cached until they change. */
  #ownership(actor: string): { owner: string; served: boolean } {
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

  /**
   * True when `actor` belongs to this node. Never while fenced, nor while a heartbeat of this
   * process has gone unconfirmed for as long as a process starting with this node id waits.
   */
  isMine(actor: string): boolean {
    if (this.#inUse) return false;
    if (this.#unconfirmedSince !== undefined) {
      const wait = claimWaitMs(
        this.#record ?? this.#heartbeat(),
        this.#o.heartbeatMs ?? defaultHeartbeatMs(this.#o.leaseMs),
      );
      if (this.#monotonic() - this.#unconfirmedSince >= wait) return false;
    }
    return this.ownerOf(actor) === this.#o.node;
  }

  /**
   * A clean stop: marks this node's record `stopped` (not live: the others take its actors at
   * once; a process starting with this node id starts without waiting). Only over this process's
   * own record: a fenced process leaves the other's be.
   */
  async leave(): Promise<void> {
    if (this.#inUse || !this.#claimed || !this.#record) return;
    const registry = this.#o.registry;
    const record: NodeRecord = { ...this.#record, lastSeen: this.#o.now(), stopped: this.#o.now() };
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const written = await registry.write(record, this.#mine);
      if (written !== undefined) {
        this.#mine = written;
        return;
      }
      // Another process's record now (this one leaves it be), or none (nothing to mark).
      const found = await registry.entry(this.#o.node);
      if (!found || found.record.instance !== this.#instance) return;
      this.#mine = found.versionstamp;
    }
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
        out.push({ entry, live: record.stopped === undefined, changed: true, offsetMs: 0 });
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
        // Stopped cleanly: gone at once.
        live: silentMs < leaseMs && record.stopped === undefined,
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
