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
 * clock can reach before the next heartbeat. Nothing of this runs per message. Only
 * {@link Cluster.refresh} keeps what it reads of the records: {@link Cluster.nodes} (`GET
 * /admin/nodes`, the console's nodes page) reads them the same way and keeps nothing, so an
 * operator polling it between heartbeats changes nothing the next refresh sees.
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
 *
 * The parts, each in a module of its own: `cluster_heartbeat.ts` (this process's record: the
 * claim, the writes, the fence, the clean stop) with `cluster_record.ts` (what the record says),
 * `cluster_liveness.ts` (whether each node is live, clock offsets), `cluster_ownership.ts` (who
 * owns which actor) with `rendezvous.ts` (the hash), and `cluster_options.ts` (the types).
 * This module puts them together as {@link Cluster}.
 * @module
 */

import { idFloor } from "../store/ids.ts";
import type { Logger } from "./log.ts";
import type { ClusterIds, ClusterOptions, NodeView } from "./cluster_options.ts";
import { Heartbeat } from "./cluster_heartbeat.ts";
import { type Judged, Liveness } from "./cluster_liveness.ts";
import { Owners } from "./cluster_ownership.ts";

export { claimWaitMs, NodeIdInUseError } from "./node_claim.ts";
export type { ClusterIds, ClusterOptions, NodeView } from "./cluster_options.ts";
export { rendezvous } from "./rendezvous.ts";

/** See the module doc. */
export class Cluster {
  readonly #o: ClusterOptions;
  readonly #monotonic: () => number;
  #log: Logger | undefined;
  /** This process's own record (claim, writes, fence, clean stop). */
  readonly #heartbeat: Heartbeat;
  /** Every node's record as this process judges it. */
  readonly #liveness: Liveness;
  /** The live nodes and each actor's owner among them. */
  readonly #owners: Owners;
  /** Monotonic time of the last {@link refresh}. */
  #lastRefresh: number | undefined;

  /** A cluster view that, until the first {@link refresh}, holds this node alone. */
  constructor(options: ClusterOptions) {
    this.#o = options;
    const monotonic = options.monotonic ?? (() => performance.now());
    this.#monotonic = monotonic;
    this.#log = options.log;
    const log = () => this.#log;
    this.#heartbeat = new Heartbeat(options, monotonic, log);
    this.#liveness = new Liveness({
      registry: options.registry,
      node: options.node,
      leaseMs: options.leaseMs,
      now: () => options.now(),
      monotonic,
      log,
    });
    this.#owners = new Owners(options.node, options.weight ?? 1);
  }

  /** This node's id. */
  get node(): string {
    return this.#o.node;
  }

  /** This process's random instance token. */
  get instance(): string {
    return this.#heartbeat.instance;
  }

  /**
   * Set once another process was found holding this node id while this one ran: this process
   * takes no actor any more (see the module doc).
   */
  get fenced(): boolean {
    return this.#heartbeat.fenced;
  }

  /** Ids of the live nodes, sorted. */
  get liveIds(): string[] {
    return this.#owners.liveIds;
  }

  /**
   * True while other live nodes share the KV with this one: they commit to the same queues, and
   * a commit of theirs may land after this node's with an older seq. Read per message: no copy.
   */
  get shared(): boolean {
    return this.#owners.shared;
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
    const ids = this.#o.ids;
    // The first one claims the node id (throws NodeIdInUseError if another process holds it).
    if (!this.#heartbeat.claimed) await this.#heartbeat.claim();
    let fencedNow = false;
    if (!this.#heartbeat.fenced) fencedNow = !(await this.#heartbeat.beat());
    const judged = await this.#liveness.read();
    const mono = this.#monotonic();
    const wall = this.#o.now();
    // Until the next refresh, about as long as since the last one (at most a lease).
    const interval = this.#lastRefresh === undefined
      ? 0
      : Math.min(Math.max(0, mono - this.#lastRefresh), this.#o.leaseMs);
    this.#lastRefresh = mono;
    if (ids) observeIds(ids, this.#o.node, judged, interval, wall);
    const changed = this.#owners.update(
      judged.filter((j) => j.live).map((j) => j.entry.record),
    );
    // Fenced: every actor is someone else's now (the supervisor hands them over on a change).
    return fencedNow || changed;
  }

  /**
   * Every node with a heartbeat record, whether it is live, and its estimated clock offset, as
   * {@link refresh} would judge them now. A pure read: what it sees is not kept (nothing logged
   * or removed either), so the next refresh still finds every record changed since its own last
   * look, and applies the id guards that go by it (see the module doc).
   */
  async nodes(): Promise<NodeView[]> {
    return (await this.#liveness.peek()).map(({ entry: { record }, live, offsetMs }) => ({
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
    return this.#owners.of(actor).owner;
  }

  /**
   * Whether some live node serves `actor` (its config can build it, or its record does not say:
   * an older engine). False: no running node can drain its queue.
   */
  served(actor: string): boolean {
    return this.#owners.of(actor).served;
  }

  /**
   * True when `actor` belongs to this node. Never while fenced, nor while a heartbeat of this
   * process has gone unconfirmed for as long as a process starting with this node id waits.
   */
  isMine(actor: string): boolean {
    if (!this.#heartbeat.standing()) return false;
    return this.ownerOf(actor) === this.#o.node;
  }

  /**
   * A clean stop: marks this node's record `stopped` (not live: the others take its actors at
   * once; a process starting with this node id starts without waiting). Only over this process's
   * own record: a fenced process leaves the other's be.
   */
  leave(): Promise<void> {
    return this.#heartbeat.leave();
  }
}

/**
 * Keeps this node's ids after the other nodes' (see the module doc): after the newest each made,
 * and after what a clock certainly ahead of this one can reach within `interval`.
 */
function observeIds(
  ids: ClusterIds,
  node: string,
  judged: readonly Judged[],
  interval: number,
  wall: number,
): void {
  for (const { entry: { record }, live: isLive, changed } of judged) {
    if (record.id === node) continue;
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
}
