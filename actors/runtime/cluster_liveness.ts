/**
 * Whether each node is live, as this process judges it (see `cluster.ts`): every heartbeat
 * record is read, and a node is live while its record keeps changing (a new versionstamp) by this
 * process's monotonic clock, dead once unchanged for its lease, gone at once when stopped
 * cleanly. The wall-clock stamps only estimate each node's clock offset, logged as
 * `cluster.clock-skew` past a third of a lease (as are ids made ahead of this clock). Records
 * unchanged for long are removed from KV.
 *
 * Only the cluster's refresh keeps what it reads ({@link Liveness.read}): which records changed
 * since its last look is what its id guards go by. Any other reader (`GET /admin/nodes`, the
 * console's nodes page) peeks ({@link Liveness.peek}): judged the same way, nothing kept, logged
 * or removed, so polling it between heartbeats cannot hide a change from the next refresh.
 * @module
 */

import type { NodeEntry, NodeRecord, NodeRegistry } from "../store/nodes.ts";
import { idTime } from "../store/ids.ts";
import type { Logger } from "./log.ts";

/** What {@link Liveness} reads and judges with. */
export interface LivenessOptions {
  /** The heartbeat records in KV. */
  registry: NodeRegistry;
  /** This node's id: its own record is live unless stopped, offset 0. */
  node: string;
  /** This node's lease, for a record that does not say its own. */
  leaseMs: number;
  /** Wall clock, for offset estimates only. */
  now: () => number;
  /** The clock liveness is judged on. */
  monotonic: () => number;
  /** Where `cluster.clock-skew` goes, as of the call (a logger may be attached later). */
  log: () => Logger | undefined;
}

/** A heartbeat record as judged by one read. */
export interface Judged {
  /** The record and its versionstamp. */
  entry: NodeEntry;
  /** The node is live. */
  live: boolean;
  /** Its record changed since the previous read. */
  changed: boolean;
  /** Estimated offset of its wall clock from this process's (see `NodeView.clockOffsetMs`). */
  offsetMs?: number;
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

/** A record unchanged this long (and at least six of its leases) is removed from KV. */
const FORGET_AFTER_MS = 60_000;

/** The records as this process has seen them change; see the module doc. */
export class Liveness {
  readonly #o: LivenessOptions;
  readonly #seen = new Map<string, Seen>();
  /** Monotonic and wall time of the last read of the records (offsets are estimated from it). */
  #lastRead: { mono: number; wall: number } | undefined;

  /** Nothing seen yet: every record first read counts as changed then. */
  constructor(options: LivenessOptions) {
    this.#o = options;
  }

  /**
   * Reads every record and judges it: live while its versionstamp changed less than a lease ago
   * by this process's monotonic clock. What it saw is kept (`changed` at the next read is
   * against this one), skew is logged, and records unchanged for long are removed from KV.
   * The one reader whose view is kept: the cluster's refresh.
   */
  read(): Promise<Judged[]> {
    return this.#judge(true);
  }

  /**
   * Reads every record and judges it as {@link read} would now, keeping nothing: `changed` is
   * against the last {@link read}, nothing is logged or removed, and the next {@link read} judges
   * as if this one had not happened (`GET /admin/nodes` polled between heartbeats changes
   * nothing the cluster's refresh sees).
   */
  peek(): Promise<Judged[]> {
    return this.#judge(false);
  }

  /** {@link read} when `keep`, else {@link peek}. */
  async #judge(keep: boolean): Promise<Judged[]> {
    const entries = await this.#o.registry.entries();
    const mono = this.#o.monotonic();
    const wall = this.#o.now();
    // A change seen now was written since the last read: its midpoint estimates when.
    const gapMs = this.#lastRead ? mono - this.#lastRead.mono : 0;
    const writtenAt = wall - gapMs / 2;
    if (keep) this.#lastRead = { mono, wall };
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
      const known = this.#seen.get(record.id);
      const changed = known?.versionstamp !== versionstamp;
      let seen: Seen;
      if (known && !changed) seen = known;
      else {
        // A copy: what was seen before stays as it was unless kept.
        seen = { ...(known ?? { skewed: false, idsAhead: false }), versionstamp, at: mono };
        if (known) seen.offsetMs = Math.round(record.lastSeen - writtenAt);
        if (keep) {
          this.#checkSkew(record, seen, wall, gapMs / 2);
          this.#seen.set(record.id, seen);
        }
      }
      const leaseMs = record.leaseMs > 0 ? record.leaseMs : this.#o.leaseMs;
      const silentMs = mono - seen.at;
      out.push({
        entry,
        // Stopped cleanly: gone at once.
        live: silentMs < leaseMs && record.stopped === undefined,
        changed,
        ...(seen.offsetMs !== undefined ? { offsetMs: seen.offsetMs } : {}),
      });
      if (silentMs >= Math.max(FORGET_AFTER_MS, leaseMs * 6)) stale.push(entry);
    }
    if (!keep) return out;
    for (const id of this.#seen.keys()) if (!present.has(id)) this.#seen.delete(id);
    for (const { record, versionstamp } of stale) {
      // Checked against the versionstamp read: a node that came back keeps its new heartbeat.
      if (await this.#o.registry.remove(record.id, versionstamp).catch(() => false)) {
        this.#seen.delete(record.id);
      }
    }
    return out;
  }

  /**
   * Logs `cluster.clock-skew` once per episode of a node's clock (or ids) off by a third lease.
   * The heartbeat's offset is estimated within `uncertaintyMs` (half the time since this process's
   * previous read): when that is over the limit itself (this process, or its reads, did not run
   * for long: a SIGSTOP, a VM freeze, a KV file locked by a frozen peer) the estimate tells
   * nothing and is not judged; the next read on time judges it.
   */
  #checkSkew(record: NodeRecord, seen: Seen, wall: number, uncertaintyMs: number): void {
    const limit = this.#o.leaseMs / 3;
    const offset = seen.offsetMs;
    if (offset !== undefined && uncertaintyMs <= limit) {
      if (Math.abs(offset) > limit && !seen.skewed) {
        seen.skewed = true;
        this.#o.log()?.warn("cluster.clock-skew", {
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
        this.#o.log()?.warn("cluster.clock-skew", {
          node: record.id,
          offsetMs: ahead,
          source: "ids",
          limitMs: Math.round(limit),
        });
      } else if (ahead < limit / 2) seen.idsAhead = false;
    }
  }
}
