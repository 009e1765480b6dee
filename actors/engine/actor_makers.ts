/**
 * The actor factory's parts: what it derives from a config (rebuilt by a reload), and one maker
 * per kind of actor identity, each building the actor the running config defines for it (or
 * nothing when the config no longer does).
 * @module
 */

import type { Config } from "../config/mod.ts";
import { DeliveryActor } from "../delivery/delivery_actor.ts";
import type { Deliverer } from "../delivery/deliverer.ts";
import type { HeldBudget } from "../delivery/ready_queue.ts";
import { HttpsDestinations, type HttpSender } from "../https_out/mod.ts";
import type { MllpConnector } from "../mllp_out/connector.ts";
import { MllpDeliverer } from "../mllp_out/mllp_deliverer.ts";
import { mllpTarget } from "../mllp_out/target.ts";
import type { Actor } from "../runtime/actor.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import {
  type FileInbox,
  pollActorId,
  RemoteSftpEndpoint,
  type SftpConnector,
  SftpDeliverer,
  SftpPollActor,
  type SftpSessionSource,
} from "../sftp/mod.ts";
import type { QueueItem, Store } from "../store/store.ts";
import type { AppAcks } from "./app_acks.ts";
import { type ActorKind, destinationActorId } from "./identities.ts";
import { InboundActor } from "./inbound_actor.ts";
import type { OffloadSettings } from "./inbound_plan.ts";

/** SFTP as the engine has it: the client for remote servers, the hosted folder's outboxes. */
export interface EngineSftp {
  connector: SftpConnector;
  outboxSessions(user: string): SftpSessionSource;
}

/** What the actor factory derives from the config (rebuilt by a reload). */
export interface Derived {
  /** MLLP destinations by the identity of the actor (one per address) that delivers them. */
  outbound: Map<string, Config["destinations"]>;
  https: HttpsDestinations | undefined;
  /** The identities of the SFTP pollers. */
  pollers: string[];
  sftpOut: Config["destinations"];
}

/** What {@link deriveActors} needs besides the config. */
export interface DeriveOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  httpSender?: HttpSender;
  sftp?: EngineSftp;
}

/** What the factory needs from `config` (see {@link Derived}). */
export function deriveActors(config: Config, options: DeriveOptions): Derived {
  const { store, clock, log, httpSender, sftp } = options;
  const outbound = new Map<string, Config["destinations"]>();
  for (const d of config.destinations) {
    if (!d.mllp) continue;
    const id = destinationActorId(d);
    outbound.set(id, [...outbound.get(id) ?? [], d]);
  }
  return {
    outbound,
    https: httpSender
      ? new HttpsDestinations({
        config,
        records: store.verifications,
        // The SEND logs' attempt counts, for `x-engine-attempt` after a failure or a restart.
        logs: store,
        sender: httpSender,
        clock,
        log,
      })
      : undefined,
    pollers: sftp ? config.integrations.filter((i) => i.sftp).map((i) => pollActorId(i.id)) : [],
    sftpOut: config.destinations.filter((d) => d.sftp || d.sftpOutbox),
  };
}

/** What the makers build actors from. */
export interface MakerOptions {
  /** The running config (a reload swaps it). */
  readonly config: Config;
  /** What the running config derives (a reload swaps it). */
  readonly derived: Derived;
  store: Store;
  clock: Clock;
  log: Logger;
  pollMs: number;
  /** What the delivery actors hold in memory beyond their own entries, all together. */
  held: HeldBudget;
  /** Wakes an actor (through the supervisor). */
  notify(id: string): void;
  /** Hands routed entries to their actors in memory (through the supervisor). */
  handOver(id: string, items: readonly QueueItem[]): void;
  /** The deliverer of actor `id`, asking the supervisor before each message (fencing, handover). */
  fenced(id: string, deliverer: Deliverer): Deliverer;
  /** HL7 bytes as text (the configured fallback charset where they do not say). */
  decode(bytes: Uint8Array): string;
  appAcks: AppAcks;
  /** Where large messages are read and planned. */
  threads: OffloadSettings;
  mllpConnector: MllpConnector;
  sftp?: EngineSftp;
  /** Where SFTP files are stored. */
  files: FileInbox;
  /** MLLP destination actors held back while a moved queue is merged into theirs. */
  movesHeld: ReadonlySet<string>;
  /** The makers of `forward` and `forward-in` actors. */
  forwardMakers: Record<"forward" | "forward-in", (id: string, rest: string) => Actor | undefined>;
}

/** One maker per kind of actor; each gets the whole identity and the part after the kind. */
export function actorMakers(
  o: MakerOptions,
): Record<ActorKind, (id: string, rest: string) => Actor | undefined> {
  const { store, clock, log, pollMs, held, sftp } = o;
  const delivery = (id: string, kind: string, deliverer: Deliverer) =>
    new DeliveryActor({
      id,
      kind,
      store,
      deliverer: o.fenced(id, deliverer),
      clock,
      log,
      pollMs,
      held,
    });
  const inbound = (id: string, kind?: string) =>
    new InboundActor({
      id,
      ...(kind ? { kind } : {}),
      get config() {
        return o.config;
      },
      store,
      clock,
      log,
      notify: o.notify,
      handOver: o.handOver,
      decode: o.decode,
      pollMs,
      appAcks: o.appAcks,
      threads: o.threads,
    });
  return {
    ...o.forwardMakers,
    "sftp-poll": (id, integrationId) => {
      if (!sftp) return undefined;
      const i = o.config.integrations.find((x) => x.id === integrationId);
      if (!i?.sftp) return undefined;
      return new SftpPollActor({
        integration: i,
        settings: i.sftp,
        sink: o.files,
        ...(i.x12?.ackFolder ? { ackFolder: i.x12.ackFolder } : {}),
        store,
        clock,
        log,
        maxFileBytes: o.config.limits.maxHl7Bytes,
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
      const d = o.derived.sftpOut.find((x) => x.id === destinationId);
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
      return delivery(id, "sftp-out", deliverer);
    },
    // The inbound queue of an SFTP-fed integration (polled, or the hosted folder's user).
    sftp: (id, integrationId) => {
      if (!o.config.integrations.some((i) => i.id === integrationId && !i.mllp)) return undefined;
      return inbound(id, "sftp");
    },
    https: (id, destinationId) => {
      const deliverer = o.derived.https?.deliverer(destinationId);
      return deliverer && delivery(id, "https", deliverer);
    },
    "mllp-out": (id) => {
      // Held back while a moved queue is merged into it (FIFO across a port change).
      if (o.movesHeld.has(id)) return undefined;
      const dests = o.derived.outbound.get(id);
      const first = dests?.[0]?.mllp;
      if (!dests || !first) return undefined;
      const deliverer = new MllpDeliverer({
        actorId: id,
        target: mllpTarget(first),
        connector: o.mllpConnector,
        clock,
        log,
        idleCloseMs: first.idleCloseSeconds * 1000,
        connectTimeoutMs: first.connectTimeoutSeconds * 1000,
        settings: (destinationId) => {
          const m = (dests.find((d) => d.id === destinationId) ?? dests[0]!).mllp!;
          return { ackTimeoutMs: m.ackTimeoutSeconds * 1000, onNack: m.onNack };
        },
      });
      return delivery(id, "mllp-out", deliverer);
    },
    // `<localPort>:<peerIp>`: any peer of a configured listener port.
    "mllp-in": (id, portAndPeer) => {
      const port = Number(portAndPeer.slice(0, portAndPeer.indexOf(":")));
      if (!o.config.integrations.some((i) => i.mllp?.port === port)) return undefined;
      return inbound(id);
    },
  };
}
