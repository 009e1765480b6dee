/**
 * This process's own heartbeat record under its node id (see `cluster.ts`, "one process per
 * node id"): claimed at the first refresh (at once when missing or stopped cleanly, else after
 * watching it for its writer's heartbeat interval plus a margin), then written at every refresh
 * only over the version this process wrote last. A write that finds another process's token
 * fences this process for good (ERROR `cluster.node-id-in-use`); a clean stop marks the record
 * `stopped`. While a write stays unconfirmed for as long as a newcomer waits, this process takes
 * no actor.
 * @module
 */

import type { NodeRecord } from "../store/nodes.ts";
import type { Logger } from "./log.ts";
import { systemClock } from "./clock.ts";
import type { ClusterOptions } from "./cluster_options.ts";
import { heartbeatRecord, ServedList } from "./cluster_record.ts";
import {
  CLAIM_ATTEMPTS,
  claimWaitMs,
  defaultHeartbeatMs,
  refuseNodeId,
  watchPredecessor,
} from "./node_claim.ts";

/** Longest gaps between heartbeats kept to say how often this process beats. */
const GAPS_KEPT = 16;

/** This process's heartbeat record and its claim on the node id; see the module doc. */
export class Heartbeat {
  readonly #o: ClusterOptions;
  readonly #monotonic: () => number;
  readonly #log: () => Logger | undefined;
  readonly #startedAt: number;
  readonly #served: ServedList;
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

  /**
   * The heartbeat of `options.node`, started now by `options.now`; elapsed time by `monotonic`,
   * log lines to `log()` as of each call.
   */
  constructor(options: ClusterOptions, monotonic: () => number, log: () => Logger | undefined) {
    this.#o = options;
    this.#startedAt = options.now();
    this.#monotonic = monotonic;
    this.#log = log;
    this.#served = new ServedList(options, log);
  }

  /** This process's random instance token. */
  get instance(): string {
    return this.#instance;
  }

  /** The node id was claimed (the first {@link claim} succeeded). */
  get claimed(): boolean {
    return this.#claimed;
  }

  /** Another process was found holding this node id while this one ran. */
  get fenced(): boolean {
    return this.#inUse !== undefined;
  }

  /**
   * False while fenced, or while a heartbeat write has gone unconfirmed for as long as a process
   * starting with this node id waits: this process may take no actor then.
   */
  standing(): boolean {
    if (this.#inUse) return false;
    if (this.#unconfirmedSince !== undefined) {
      const wait = claimWaitMs(
        this.#record ?? this.#current(),
        this.#o.heartbeatMs ?? defaultHeartbeatMs(this.#o.leaseMs),
      );
      if (this.#monotonic() - this.#unconfirmedSince >= wait) return false;
    }
    return true;
  }

  /** This node's heartbeat record as of now. */
  #current(): NodeRecord {
    return heartbeatRecord(this.#o, {
      startedAt: this.#startedAt,
      instance: this.#instance,
      gaps: this.#gaps,
      served: this.#served,
    });
  }

  /**
   * Writes this node's heartbeat over the record this process wrote last; false (and this process
   * fenced) when another process has written it since.
   */
  async beat(): Promise<boolean> {
    const registry = this.#o.registry;
    const started = this.#monotonic();
    this.#unconfirmedSince ??= started;
    if (this.#lastBeat !== undefined) {
      this.#gaps.push(started - this.#lastBeat);
      if (this.#gaps.length > GAPS_KEPT) this.#gaps.shift();
    }
    this.#lastBeat = started;
    const record = this.#current();
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
    this.#log()?.error("cluster.node-id-in-use", {
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
   * stopped cleanly, else after watching it for a heartbeat interval plus margin. Throws
   * `NodeIdInUseError` when another process holds it.
   */
  async claim(): Promise<void> {
    const registry = this.#o.registry;
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      let found = await registry.entry(this.#o.node);
      if (found && found.record.stopped === undefined) {
        const log = this.#log();
        found = await watchPredecessor(found, {
          registry,
          node: this.#o.node,
          exclusive: this.#o.exclusive === true,
          heartbeatMs: this.#o.heartbeatMs ?? defaultHeartbeatMs(this.#o.leaseMs),
          clock: this.#o.clock ?? systemClock,
          monotonic: () => this.#monotonic(),
          ...(log ? { log } : {}),
        });
      }
      const record = this.#current();
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
    refuseNodeId(this.#o.node, 0, this.#log());
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
}
