/**
 * The engine assembled from a config: the store, the supervisor, an actor factory that knows every
 * identity the config defines, and the MLLP inbox that transports hand frames to. Connectors are
 * injected, so this module never touches a socket.
 * @module
 */

import type { Config } from "../config/mod.ts";
import { DeliveryActor } from "../delivery/delivery_actor.ts";
import { HeldBudget } from "../delivery/ready_queue.ts";
import type { MllpConnector } from "../mllp_out/connector.ts";
import { HttpsDestinations, type HttpSender } from "../https_out/mod.ts";
import {
  FileInbox,
  pollActorId,
  RemoteSftpEndpoint,
  type SftpConnector,
  SftpDeliverer,
  SftpPollActor,
  type SftpSessionSource,
} from "../sftp/mod.ts";
import { mllpTarget } from "../mllp_out/target.ts";
import { MllpDeliverer } from "../mllp_out/mllp_deliverer.ts";
import type { Actor } from "../runtime/actor.ts";
import { type Clock, systemClock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import { Supervisor } from "../runtime/supervisor.ts";
import { type QueueItem, Store } from "../store/store.ts";
import { sweepStore } from "../store/retention.ts";
import { LAST_SEEN_EVERY_MS } from "../store/last_seen.ts";
import { RetentionGuard } from "./retention_guard.ts";
import { ClockWatch } from "../runtime/clock_watch.ts";
import { NodeRegistry } from "../store/nodes.ts";
import { Cluster } from "../runtime/cluster.ts";
import type { Deliverer } from "../delivery/deliverer.ts";
import { fencedDeliverer } from "../delivery/fenced_deliverer.ts";
import { type ActorKind, destinationActorId, parseActorId } from "./identities.ts";
import { InboundActor } from "./inbound_actor.ts";
import { EngineMllpInbox } from "./mllp_inbox.ts";
import { AppAcks } from "./app_acks.ts";
import { EngineApiInbox } from "./api_inbox.ts";
import { ApiQuery } from "./api_query.ts";
import { decodeHl7Bytes } from "../../codecs/hl7v2/mod.ts";
import { forwardActors } from "../forward/actors.ts";
import { ForwardInbox } from "../forward/forward_inbox.ts";
import { configHash, ConfigHolder, type ConfigVersion } from "./config_holder.ts";
import { actorChanges } from "./reconfigure.ts";
import { PlanThreads, type PlanThreadsOptions } from "./plan_threads.ts";
import { QueueMoves } from "./queue_moves.ts";
import { servedActors } from "./served_actors.ts";

/** What the engine is built from. */
export interface EngineOptions {
  config: Config;
  log: Logger;
  mllpConnector: MllpConnector;
  /** Sends HTTP requests for HTTPS destinations (the `fetch` sender from transports/https). */
  httpSender?: HttpSender;
  /** SFTP for polled integrations and SFTP destinations, and the hosted folder's outboxes. */
  sftp?: {
    connector: SftpConnector;
    outboxSessions(user: string): SftpSessionSource;
  };
  clock?: Clock;
  /** An already-open store (tests); otherwise opened from `config.kv`. */
  store?: Store;
  /** Poll period for work written by other processes, default 1 s. */
  pollMs?: number;
  /** The version of `config` (its file's hash), when it came from a file. */
  configHash?: string;
  /** How the planning thread for large messages runs (tests: a module that fails on purpose). */
  planThreads?: Omit<PlanThreadsOptions, "log">;
  /**
   * This process holds the OS lock of its node id on a local KV file (app/node_lock.ts): no other
   * process runs with it, so the start does not watch the node's record for one (cluster.ts).
   */
  nodeLocked?: boolean;
}

/** What the actor factory derives from the config (rebuilt by a reload). */
interface Derived {
  outbound: Map<string, Config["destinations"]>;
  https: HttpsDestinations | undefined;
  pollers: string[];
  sftpOut: Config["destinations"];
}

/** See the module doc. */
export class Engine {
  readonly store: Store;
  readonly supervisor: Supervisor;
  readonly inbox: EngineMllpInbox;
  readonly #log: Logger;
  readonly #holder: ConfigHolder;
  /** Applies a new config to the actors (set by {@link Engine.start}). */
  #apply!: (next: Config, hash: string, loadedAt: number) => Promise<string[]>;
  readonly #housekeeping = new AbortController();
  /** Where large messages are read and planned, off this thread (set by {@link Engine.start}). */
  #planThreads: PlanThreads | undefined;
  #housekeepingDone: Promise<void> = Promise.resolve();
  #appAcks: AppAcks | undefined;
  /** HTTPS destinations (listing and verification for the admin endpoint), when wired. */
  https: HttpsDestinations | undefined;
  /** The processes sharing the KV, and which one each actor belongs to. */
  cluster!: Cluster;
  /** Where `POST /endpoint` hands API messages. */
  api!: EngineApiInbox;
  /** Where `POST /query` hands queries. */
  queries!: ApiQuery;
  /** Where SFTP files (polled or uploaded to the hosted folder) are stored. */
  files!: FileInbox;
  /** Where `POST /forward` (agent mode) hands messages other engines forward. */
  forwards!: ForwardInbox;
  /** Notices wall-clock steps: logs, `/healthz`'s `clock` check, the retention hold. */
  clockWatch!: ClockWatch;

  private constructor(
    holder: ConfigHolder,
    store: Store,
    supervisor: Supervisor,
    inbox: EngineMllpInbox,
    log: Logger,
  ) {
    this.#holder = holder;
    this.store = store;
    this.supervisor = supervisor;
    this.inbox = inbox;
    this.#log = log;
  }

  /** The running config: the one the next message is routed under (a reload swaps it). */
  get config(): Config {
    return this.#holder.current;
  }

  /** The running config's version. */
  get configVersion(): ConfigVersion {
    return this.#holder.version;
  }

  /**
   * Makes `next` the running config (app/reload.ts validated it and checked what it may change):
   * the next message is routed under it; delivery actors whose settings changed are restarted
   * after their message in flight; removed ones stopped; pollers stopped and started. Returns
   * what was done, one line each.
   */
  async reconfigure(next: Config, hash: string, loadedAt: number): Promise<string[]> {
    const applied = await this.#apply(next, hash, loadedAt);
    this.#log.info("config.applied", { version: this.#holder.label, applied });
    return applied;
  }

  /** Opens the store, restores every non-empty queue and starts the actors. */
  static async start(options: EngineOptions): Promise<Engine> {
    const { config, log } = options;
    const holder = new ConfigHolder(config, {
      hash: options.configHash ?? await configHash(JSON.stringify(config)),
      loadedAt: Date.now(),
      generation: 1,
    });
    const clock = options.clock ?? systemClock;
    const store = options.store ?? await Store.open({
      path: config.kv.path,
      node: config.node.id,
      ...(config.kv.accessToken ? { accessToken: config.kv.accessToken.reveal() } : {}),
    });
    // A full disk fails every write: one warning per interval, not one per message.
    store.health.configure({
      log,
      warnIntervalMs: config.limits.storageWarningIntervalSeconds * 1000,
    });
    // An unreadable queue entry is set aside with an ERROR (queue_repair.ts).
    store.log = log;
    // Each RECEIVE and SEND log records the config version it was routed under.
    store.configVersion = () => holder.label;
    const fallback = config.limits.fallbackCharset;
    const decode = (bytes: Uint8Array) => decodeHl7Bytes(bytes, fallback);
    // Large messages are read and planned on a thread of their own (see plan_threads.ts).
    const planThreads = new PlanThreads({ ...options.planThreads, log });
    const threads = { pool: planThreads, fallbackCharset: fallback };
    const pollMs = options.pollMs ?? 1000;
    // What the delivery actors hold in memory beyond each one's own 1,024 entries, all together.
    const held = new HeldBudget();
    // The factory and inbox wake actors through the supervisor, which is built from the factory.
    const supervisorRef: { current?: Supervisor } = {};
    const notify = (id: string) => supervisorRef.current?.notify(id);
    const handOver = (id: string, items: readonly QueueItem[]) =>
      supervisorRef.current?.handOver(id, items);
    // Every deliverer asks the supervisor before a message goes out (fencing, handover).
    const fenced = (id: string, d: Deliverer) =>
      fencedDeliverer(id, d, () => supervisorRef.current);
    // A message routed to a `forward` destination gets the central engine's application verdict.
    const appAcks = new AppAcks({
      peerVerdicts: config.destinations.filter((d) => d.forward).map((d) => d.id),
    });
    const forward = forwardActors({
      get config() {
        return holder.current;
      },
      store,
      clock,
      log,
      ...(options.httpSender ? { sender: options.httpSender } : {}),
      appAcks,
      notify,
      decode,
      pollMs,
      wrap: fenced,
      threads,
    });

    const sftp = options.sftp;
    // What the factory needs from the config, rebuilt when a reload swaps it.
    const derive = (c: Config): Derived => {
      const outbound = new Map<string, Config["destinations"]>();
      for (const d of c.destinations) {
        if (!d.mllp) continue;
        const id = destinationActorId(d);
        outbound.set(id, [...outbound.get(id) ?? [], d]);
      }
      return {
        outbound,
        https: options.httpSender
          ? new HttpsDestinations({
            config: c,
            records: store.verifications,
            // The SEND logs' attempt counts, for `x-engine-attempt` after a failure or a restart.
            logs: store,
            sender: options.httpSender,
            clock,
            log,
          })
          : undefined,
        pollers: sftp ? c.integrations.filter((i) => i.sftp).map((i) => pollActorId(i.id)) : [],
        sftpOut: c.destinations.filter((d) => d.sftp || d.sftpOutbox),
      };
    };
    let derived = derive(config);
    // MLLP destinations moved by a reload (see queue_moves.ts).
    const moves = new QueueMoves({
      store,
      log,
      clock,
      pollMs,
      config: () => holder.current,
      actors: () => supervisorRef.current,
    });
    const fileInbox = new FileInbox({
      store,
      log,
      dedupeWindowSeconds: config.limits.dedupeWindowSeconds,
      fallbackCharset: config.limits.fallbackCharset,
      maxFileBytes: config.limits.maxHl7Bytes,
      notify,
      get config() {
        return holder.current;
      },
    });
    // One maker per kind of actor; each gets the whole identity and the part after the kind.
    const makers: Record<ActorKind, (id: string, rest: string) => Actor | undefined> = {
      ...forward.makers,
      "sftp-poll": (id, integrationId) => {
        if (!sftp) return undefined;
        const i = holder.current.integrations.find((x) => x.id === integrationId);
        if (!i?.sftp) return undefined;
        return new SftpPollActor({
          integration: i,
          settings: i.sftp,
          sink: fileInbox,
          ...(i.x12?.ackFolder ? { ackFolder: i.x12.ackFolder } : {}),
          store,
          clock,
          log,
          maxFileBytes: holder.current.limits.maxHl7Bytes,
          sessions: new RemoteSftpEndpoint({
            owner: id,
            endpoint: i.sftp,
            connector: sftp.connector,
            clock,
            log,
          }),
        });
      },
      "sftp-out": (id, destinationId) => {
        if (!sftp) return undefined;
        const d = derived.sftpOut.find((x) => x.id === destinationId);
        if (!d) return undefined;
        const deliverer = d.sftp
          ? new SftpDeliverer({
            actorId: id,
            folder: d.sftp.folder,
            fileName: d.sftp.fileName,
            clock,
            log,
            sessions: new RemoteSftpEndpoint({
              owner: id,
              endpoint: d.sftp,
              connector: sftp.connector,
              clock,
              log,
            }),
          })
          : new SftpDeliverer({
            actorId: id,
            folder: "outbox",
            fileName: d.sftpOutbox!.fileName,
            clock,
            log,
            sessions: sftp.outboxSessions(d.sftpOutbox!.user),
          });
        return new DeliveryActor({
          id,
          kind: "sftp-out",
          store,
          deliverer: fenced(id, deliverer),
          clock,
          log,
          pollMs,
          held,
        });
      },
      // The inbound queue of an SFTP-fed integration (polled, or the hosted folder's user).
      sftp: (id, integrationId) => {
        const c = holder.current;
        if (!c.integrations.some((i) => i.id === integrationId && !i.mllp)) return undefined;
        return new InboundActor({
          id,
          kind: "sftp",
          get config() {
            return holder.current;
          },
          store,
          clock,
          log,
          notify,
          handOver,
          decode,
          pollMs,
          appAcks,
          threads,
        });
      },
      https: (id, destinationId) => {
        const deliverer = derived.https?.deliverer(destinationId);
        return deliverer &&
          new DeliveryActor({
            id,
            kind: "https",
            store,
            deliverer: fenced(id, deliverer),
            clock,
            log,
            pollMs,
            held,
          });
      },
      "mllp-out": (id) => {
        // Held back while a moved queue is merged into it (FIFO across a port change).
        if (moves.held.has(id)) return undefined;
        const dests = derived.outbound.get(id);
        const first = dests?.[0]?.mllp;
        if (!dests || !first) return undefined;
        const deliverer = new MllpDeliverer({
          actorId: id,
          target: mllpTarget(first),
          connector: options.mllpConnector,
          clock,
          log,
          idleCloseMs: first.idleCloseSeconds * 1000,
          connectTimeoutMs: first.connectTimeoutSeconds * 1000,
          settings: (destinationId) => {
            const m = (dests.find((d) => d.id === destinationId) ?? dests[0]!).mllp!;
            return { ackTimeoutMs: m.ackTimeoutSeconds * 1000, onNack: m.onNack };
          },
        });
        return new DeliveryActor({
          id,
          kind: "mllp-out",
          store,
          deliverer: fenced(id, deliverer),
          clock,
          log,
          pollMs,
          held,
        });
      },
      // `<localPort>:<peerIp>`: any peer of a configured listener port.
      "mllp-in": (id, portAndPeer) => {
        const port = Number(portAndPeer.slice(0, portAndPeer.indexOf(":")));
        if (!holder.current.integrations.some((i) => i.mllp?.port === port)) return undefined;
        return new InboundActor({
          id,
          get config() {
            return holder.current;
          },
          store,
          clock,
          log,
          notify,
          handOver,
          decode,
          pollMs,
          appAcks,
          threads,
        });
      },
    };
    const factory = (id: string): Actor | undefined => {
      const parsed = parseActorId(id);
      return parsed && makers[parsed.kind](id, parsed.rest);
    };
    // Scale-out: leases fence every commit of an actor's queue; membership spreads actors.
    const leaseMs = config.cluster.leaseSeconds * 1000;
    const leases = store.leases({ ttlMs: leaseMs, now: () => clock.now() });
    store.fenceWith((queue) => leases.fence(queue));
    // What this node's config builds, for its heartbeat (only nodes that serve an actor get it).
    let served: { config: Config; list: string[] } | undefined;
    const serves = (): string[] => {
      const c = holder.current;
      if (served?.config !== c) {
        served = {
          config: c,
          list: servedActors({
            config: c,
            https: options.httpSender !== undefined,
            sftp: sftp !== undefined,
            forwardIds: forward.actorIds,
            forwardConfig: config,
          }),
        };
      }
      return served.list;
    };
    const cluster = new Cluster({
      registry: new NodeRegistry(store.kv),
      serves,
      node: config.node.id,
      ids: store.idGenerator,
      ...(config.cluster.address ? { address: config.cluster.address } : {}),
      weight: config.cluster.weight,
      leaseMs,
      exclusive: options.nodeLocked === true,
      now: Date.now,
      load: () => ({
        actors: supervisorRef.current?.activeIds.length ?? 0,
        load: store.commitBacklog,
      }),
    });
    const supervisor = new Supervisor({
      store,
      factory,
      log,
      clock,
      pollMs,
      leases,
      cluster,
      alwaysOn: () => derived.pollers,
      knownIds: () => [
        ...derived.outbound.keys(),
        ...(derived.https?.actorIds() ?? []),
        ...forward.actorIds,
        ...derived.pollers,
        ...(sftp ? derived.sftpOut.map((d) => destinationActorId(d)) : []),
      ],
    });
    supervisorRef.current = supervisor;
    const inbox = new EngineMllpInbox({
      get config() {
        return holder.current;
      },
      store,
      log,
      notify,
      handOver,
      appAcks,
      threads: planThreads,
      monotonic: () => clock.monotonic(),
    });
    const engine = new Engine(holder, store, supervisor, inbox, log);
    engine.#appAcks = appAcks;
    engine.#planThreads = planThreads;
    engine.https = derived.https;
    engine.api = new EngineApiInbox({
      get config() {
        return holder.current;
      },
      store,
      log,
      notify,
      handOver,
      threads: planThreads,
    });
    engine.queries = new ApiQuery({
      get config() {
        return holder.current;
      },
      store,
      log,
      get https() {
        return derived.https;
      },
      mllpConnector: options.mllpConnector,
    });
    engine.files = fileInbox;
    engine.forwards = new ForwardInbox({
      get config() {
        return holder.current;
      },
      store,
      log,
      notify,
      appAcks,
      threads: planThreads,
    });
    engine.#apply = async (next, hash, loadedAt) => {
      const running = holder.current;
      const changes = actorChanges(running, next, sftp !== undefined);
      // Queues of MLLP destinations at a new address, held (no actor) until merged into its queue.
      const plan = await moves.plan(running, next);
      derived = derive(next);
      engine.https = derived.https;
      // One assignment: the next message is routed under `next`.
      holder.swap(next, hash, loadedAt);
      const applied: string[] = [];
      for (const id of [...changes.stop, ...changes.pollersStop]) {
        await supervisor.retire(id);
        applied.push(`stopped ${id}`);
      }
      for (const id of changes.restart) {
        // After its message in flight; its queue waits in KV for the new instance.
        if (await supervisor.retire(id)) supervisor.notify(id);
        applied.push(`restarted ${id}`);
      }
      // The old queue's entries join the new address's queue, in order (queue_moves.ts).
      applied.push(...await moves.apply(plan));
      for (const id of changes.pollersStart) {
        await supervisor.activate(id);
        applied.push(`started ${id}`);
      }
      for (const id of changes.start) applied.push(`added ${id}`);
      return applied;
    };
    engine.cluster = cluster;
    try {
      await supervisor.start();
    } catch (error) {
      // Refused (another process runs with this node id): what the start opened closes.
      await planThreads.close();
      if (!options.store) store.close();
      throw error;
    }
    // Pollers have no queue to be activated by: they start with the engine.
    for (const id of derived.pollers) await supervisor.activate(id);
    engine.clockWatch = new ClockWatch({ clock, log });
    engine.clockWatch.start();
    engine.#housekeepingDone = Promise.all([
      engine.#housekeep(clock),
      moves.watch(engine.#housekeeping.signal),
    ]).then(() => {});
    log.info("engine.started", {
      node: config.node.id,
      kv: config.kv.path,
      actors: supervisor.activeIds.length,
    });
    return engine;
  }

  /**
   * Hourly from start: collects orphan chunks and sweeps logs and messages past retention, unless
   * the sweep is held (retention_guard.ts: a forward clock step, records stamped ahead, or a start
   * far from when the engine was last seen running). Every {@link LAST_SEEN_EVERY_MS} and once
   * more at stop: the last-seen row.
   */
  async #housekeep(clock: Clock): Promise<void> {
    const signal = this.#housekeeping.signal;
    const guard = new RetentionGuard({
      store: this.store,
      clock,
      log: this.#log,
      watch: this.clockWatch,
    });
    try {
      await guard.start();
    } catch (error) {
      this.#log.warn("engine.housekeeping-failed", { error });
    }
    let nextSweep = clock.monotonic();
    while (!signal.aborted) {
      try {
        // Not while the wall clock may be wrong: a sweep would delete history that is not old.
        const hold = await guard.hold();
        if (clock.monotonic() >= nextSweep) {
          nextSweep = clock.monotonic() + 3600_000;
          if (hold?.cause === "downtime") {
            // Said once, at start (retention.held-after-downtime).
            this.#log.debug("retention.held", { ...hold });
          } else if (hold) {
            this.#log.warn("retention.held-clock-step", { ...hold });
          } else {
            // In bounded batches, yielding between commits: intake goes on during a sweep.
            const swept = await sweepStore(this.store, {
              now: clock.now(),
              retentionMs: this.config.limits.logRetentionDays * 86_400_000,
              dedupeWindowMs: this.config.limits.dedupeWindowSeconds * 1000,
              signal,
            });
            if (swept.commits > 0 || swept.orphanChunks > 0) {
              this.#log.info("engine.housekeeping", { ...swept });
            }
          }
        }
        await guard.seen(hold);
      } catch (error) {
        this.#log.warn("engine.housekeeping-failed", { error });
      }
      const due = Math.min(LAST_SEEN_EVERY_MS, nextSweep - clock.monotonic());
      await clock.sleep(Math.max(0, due), signal);
    }
    // A clean stop: the next start measures its gap from now.
    try {
      await guard.seen(await guard.hold());
    } catch (error) {
      this.#log.warn("engine.housekeeping-failed", { error });
    }
  }

  /** Stops every actor and closes the store. */
  async stop(): Promise<void> {
    this.clockWatch?.stop();
    this.#housekeeping.abort();
    await this.supervisor.stop();
    // After the actors: a plan they waited for was dropped when they stopped.
    await this.#planThreads?.close();
    this.#appAcks?.clear();
    await this.#housekeepingDone;
    this.store.close();
    // `engine.stopped`, with what the stop drained, is main.ts's line once everything closed.
    this.#log.info("engine.store-closed", {});
  }
}
