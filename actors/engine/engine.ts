/**
 * The engine assembled from a config: the store, the supervisor, an actor factory that knows every
 * identity the config defines, and the MLLP inbox that transports hand frames to. Connectors are
 * injected, so this module never touches a socket.
 * @module
 */

import type { Config } from "../config/mod.ts";
import { HeldBudget } from "../delivery/ready_queue.ts";
import type { MllpConnector } from "../mllp_out/connector.ts";
import type { HttpsDestinations, HttpSender } from "../https_out/mod.ts";
import { FileInbox } from "../sftp/mod.ts";
import type { Actor } from "../runtime/actor.ts";
import { type Clock, systemClock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import { type DeliveryDrainReport, Supervisor } from "../runtime/supervisor.ts";
import { type QueueItem, Store } from "../store/store.ts";
import { reportExpiryIndex } from "../store/expiry_index.ts";
import { housekeep } from "./housekeeping.ts";
import { ClockWatch } from "../runtime/clock_watch.ts";
import { NodeRegistry } from "../store/nodes.ts";
import { Cluster } from "../runtime/cluster.ts";
import type { Deliverer } from "../delivery/deliverer.ts";
import { fencedDeliverer } from "../delivery/fenced_deliverer.ts";
import { destinationActorId, parseActorId } from "./identities.ts";
import { actorMakers, deriveActors, type EngineSftp } from "./actor_makers.ts";
import { EngineMllpInbox } from "./mllp_inbox.ts";
import { AppAcks } from "./app_acks.ts";
import { EngineApiInbox } from "./api_inbox.ts";
import { ApiQuery } from "./api_query.ts";
import { decodeHl7Bytes } from "../../codecs/hl7v2/mod.ts";
import { forwardActors } from "../forward/actors.ts";
import { ForwardInbox } from "../forward/forward_inbox.ts";
import { configHash, ConfigHolder, type ConfigVersion, routesUnder } from "./config_holder.ts";
import { actorChanges, sectionChanges } from "./reconfigure.ts";
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
  sftp?: EngineSftp;
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
    reportExpiryIndex(store.expiryIndex, log);
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
    const deriveOptions = {
      store,
      clock,
      log,
      ...(options.httpSender ? { httpSender: options.httpSender } : {}),
      ...(sftp ? { sftp } : {}),
    };
    let derived = deriveActors(config, deriveOptions);
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
    const makers = actorMakers({
      get config() {
        return holder.current;
      },
      get derived() {
        return derived;
      },
      store,
      clock,
      log,
      pollMs,
      held,
      notify,
      handOver,
      fenced,
      decode,
      appAcks,
      threads,
      mllpConnector: options.mllpConnector,
      ...(sftp ? { sftp } : {}),
      files: fileInbox,
      movesHeld: moves.held,
      forwardMakers: forward.makers,
    });
    const factory = (id: string): Actor | undefined => {
      const parsed = parseActorId(id);
      return parsed && makers[parsed.kind](id, parsed.rest);
    };
    // Scale-out: leases fence every commit of an actor's queue; membership spreads actors.
    const leaseMs = config.cluster.leaseSeconds * 1000;
    const leases = store.leases({
      ttlMs: leaseMs,
      now: () => clock.now(),
      // Said on the node that takes them: which node's actors, and which ones (a dead or frozen
      // node's, a lease after its last renewal).
      onTakeover: (taken) => {
        const byNode = Map.groupBy(taken, (t) => t.from);
        for (const [from, list] of byNode) {
          log.info("cluster.actors-taken-over", {
            from,
            count: list.length,
            actors: list.slice(0, 20).map((t) => t.actor),
          });
        }
      },
    });
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
      const plan = moves.plan(running, next);
      derived = deriveActors(next, deriveOptions);
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
      // The old queue's entries join the new address's queue, in order, once the routes begun
      // under `running` have committed into it (queue_moves.ts).
      applied.push(...await moves.apply(plan, routesUnder(running)));
      for (const id of changes.pollersStart) {
        await supervisor.activate(id);
        applied.push(`started ${id}`);
      }
      for (const id of changes.start) applied.push(`added ${id}`);
      // Routing and the other sections: a filter change or a removed integration says so too.
      applied.push(...sectionChanges(running, next));
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
      housekeep({
        store,
        clock,
        log,
        watch: engine.clockWatch,
        config: () => holder.current,
        signal: engine.#housekeeping.signal,
      }),
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
   * Stops every actor and closes the store. The delivery actors first take in the ACKs of what
   * they have on the wire and mark it, within `graceMs` (see {@link Supervisor.drain}; a stop
   * that began their drain already is joined): the report says how many were marked, and how
   * many left unmarked (sent again after the restart).
   */
  async stop(options: { graceMs?: number } = {}): Promise<DeliveryDrainReport> {
    this.clockWatch?.stop();
    this.#housekeeping.abort();
    const deliveries = await this.supervisor.stop(options);
    // After the actors: a plan they waited for was dropped when they stopped.
    await this.#planThreads?.close();
    this.#appAcks?.clear();
    await this.#housekeepingDone;
    this.store.close();
    // `engine.stopped`, with what the stop drained, is main.ts's line once everything closed.
    this.#log.info("engine.store-closed", {});
    return deliveries;
  }
}
