/**
 * The engine assembled from a config: the store, the supervisor, an actor factory that knows every
 * identity the config defines, and the MLLP inbox that transports hand frames to. Connectors are
 * injected, so this module never touches a socket.
 * @module
 */

import type { Config } from "../config/mod.ts";
import { DeliveryActor } from "../delivery/delivery_actor.ts";
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
import { Store } from "../store/store.ts";
import { sweepStore } from "../store/retention.ts";
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
}

/** See the module doc. */
export class Engine {
  readonly config: Config;
  readonly store: Store;
  readonly supervisor: Supervisor;
  readonly inbox: EngineMllpInbox;
  readonly #log: Logger;
  readonly #housekeeping = new AbortController();
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

  private constructor(
    config: Config,
    store: Store,
    supervisor: Supervisor,
    inbox: EngineMllpInbox,
    log: Logger,
  ) {
    this.config = config;
    this.store = store;
    this.supervisor = supervisor;
    this.inbox = inbox;
    this.#log = log;
  }

  /** Opens the store, restores every non-empty queue and starts the actors. */
  static async start(options: EngineOptions): Promise<Engine> {
    const { config, log } = options;
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
    const fallback = config.limits.fallbackCharset;
    const decode = (bytes: Uint8Array) => decodeHl7Bytes(bytes, fallback);
    const pollMs = options.pollMs ?? 1000;
    // The factory and inbox wake actors through the supervisor, which is built from the factory.
    const supervisorRef: { current?: Supervisor } = {};
    const notify = (id: string) => supervisorRef.current?.notify(id);
    // Every deliverer asks the supervisor before a message goes out (fencing, handover).
    const fenced = (id: string, d: Deliverer) =>
      fencedDeliverer(id, d, () => supervisorRef.current);
    // A message routed to a `forward` destination gets the central engine's application verdict.
    const appAcks = new AppAcks({
      peerVerdicts: config.destinations.filter((d) => d.forward).map((d) => d.id),
    });
    const forward = forwardActors({
      config,
      store,
      clock,
      log,
      ...(options.httpSender ? { sender: options.httpSender } : {}),
      appAcks,
      notify,
      decode,
      pollMs,
      wrap: fenced,
    });

    const outbound = new Map<string, Config["destinations"]>();
    for (const d of config.destinations) {
      if (!d.mllp) continue;
      const id = destinationActorId(d);
      outbound.set(id, [...outbound.get(id) ?? [], d]);
    }
    const https = options.httpSender
      ? new HttpsDestinations({
        config,
        records: store.verifications,
        sender: options.httpSender,
        clock,
        log,
      })
      : undefined;
    const fileInbox = new FileInbox({
      store,
      log,
      dedupeWindowSeconds: config.limits.dedupeWindowSeconds,
      fallbackCharset: config.limits.fallbackCharset,
      maxFileBytes: config.limits.maxHl7Bytes,
      notify,
      config,
    });
    const sftp = options.sftp;
    const pollers = sftp
      ? config.integrations.filter((i) => i.sftp).map((i) => pollActorId(i.id))
      : [];
    const sftpOut = config.destinations.filter((d) => d.sftp || d.sftpOutbox);
    // One maker per kind of actor; each gets the whole identity and the part after the kind.
    const makers: Record<ActorKind, (id: string, rest: string) => Actor | undefined> = {
      ...forward.makers,
      "sftp-poll": (id, integrationId) => {
        if (!sftp) return undefined;
        const i = config.integrations.find((x) => x.id === integrationId);
        if (!i?.sftp) return undefined;
        return new SftpPollActor({
          integration: i,
          settings: i.sftp,
          sink: fileInbox,
          ...(i.x12?.ackFolder ? { ackFolder: i.x12.ackFolder } : {}),
          store,
          clock,
          log,
          maxFileBytes: config.limits.maxHl7Bytes,
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
        const d = sftpOut.find((x) => x.id === destinationId);
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
        });
      },
      // The inbound queue of an SFTP-fed integration (polled, or the hosted folder's user).
      sftp: (id, integrationId) => {
        if (!config.integrations.some((i) => i.id === integrationId && !i.mllp)) return undefined;
        return new InboundActor({
          id,
          kind: "sftp",
          config,
          store,
          clock,
          log,
          notify,
          decode,
          pollMs,
          appAcks,
        });
      },
      https: (id, destinationId) => {
        const deliverer = https?.deliverer(destinationId);
        return deliverer &&
          new DeliveryActor({
            id,
            kind: "https",
            store,
            deliverer: fenced(id, deliverer),
            clock,
            log,
            pollMs,
          });
      },
      "mllp-out": (id) => {
        const dests = outbound.get(id);
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
        });
      },
      // `<localPort>:<peerIp>`: any peer of a configured listener port.
      "mllp-in": (id, portAndPeer) => {
        const port = Number(portAndPeer.slice(0, portAndPeer.indexOf(":")));
        if (!config.integrations.some((i) => i.mllp?.port === port)) return undefined;
        return new InboundActor({
          id,
          config,
          store,
          clock,
          log,
          notify,
          decode,
          pollMs,
          appAcks,
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
    const cluster = new Cluster({
      registry: new NodeRegistry(store.kv),
      node: config.node.id,
      ...(config.cluster.address ? { address: config.cluster.address } : {}),
      weight: config.cluster.weight,
      leaseMs,
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
      alwaysOn: () => pollers,
      knownIds: () => [
        ...outbound.keys(),
        ...(https?.actorIds() ?? []),
        ...forward.actorIds,
        ...pollers,
        ...(sftp ? sftpOut.map((d) => destinationActorId(d)) : []),
      ],
    });
    supervisorRef.current = supervisor;
    const inbox = new EngineMllpInbox({
      config,
      store,
      log,
      notify,
      handOver: (id, items) => supervisorRef.current?.handOver(id, items),
      appAcks,
    });
    const engine = new Engine(config, store, supervisor, inbox, log);
    engine.#appAcks = appAcks;
    engine.https = https;
    engine.api = new EngineApiInbox({ config, store, log, notify });
    engine.queries = new ApiQuery({
      config,
      store,
      log,
      ...(https ? { https } : {}),
      mllpConnector: options.mllpConnector,
    });
    engine.files = fileInbox;
    engine.forwards = new ForwardInbox({ config, store, log, notify, appAcks });
    engine.cluster = cluster;
    await supervisor.start();
    // Pollers have no queue to be activated by: they start with the engine.
    for (const id of pollers) await supervisor.activate(id);
    engine.#housekeepingDone = engine.#housekeep(clock);
    log.info("engine.started", {
      node: config.node.id,
      kv: config.kv.path,
      actors: supervisor.activeIds.length,
    });
    return engine;
  }

  /** Hourly: collects orphan chunks and sweeps logs and messages past retention. */
  async #housekeep(clock: Clock): Promise<void> {
    const signal = this.#housekeeping.signal;
    while (!signal.aborted) {
      try {
        const now = clock.now();
        // In bounded batches, yielding between commits: intake goes on during a sweep.
        const swept = await sweepStore(this.store, {
          now,
          retentionMs: this.config.limits.logRetentionDays * 86_400_000,
          dedupeWindowMs: this.config.limits.dedupeWindowSeconds * 1000,
          signal,
        });
        if (swept.commits > 0 || swept.orphanChunks > 0) {
          this.#log.info("engine.housekeeping", { ...swept });
        }
      } catch (error) {
        this.#log.warn("engine.housekeeping-failed", { error });
      }
      await clock.sleep(3600_000, signal);
    }
  }

  /** Stops every actor and closes the store. */
  async stop(): Promise<void> {
    this.#housekeeping.abort();
    await this.supervisor.stop();
    this.#appAcks?.clear();
    await this.#housekeepingDone;
    this.store.close();
    this.#log.info("engine.stopped", {});
  }
}
