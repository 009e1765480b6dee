/**
 * The actors of agent mode for the engine's factory table: `forward:<destinationId>` (a delivery
 * actor with a {@link ForwardDeliverer}: FIFO, one in flight, the usual retry schedule) and
 * `forward-in:<integrationId>` (the inbound actor of messages other engines forward here).
 * @module
 */

import type { Config } from "../config/mod.ts";
import { DeliveryActor } from "../delivery/delivery_actor.ts";
import type { Deliverer } from "../delivery/deliverer.ts";
import type { AppAcks } from "../engine/app_acks.ts";
import { InboundActor } from "../engine/inbound_actor.ts";
import type { OffloadSettings } from "../engine/inbound_plan.ts";
import { createCredentialStrategy, type HttpsConfig } from "../https_out/credentials/mod.ts";
import type { HttpSender } from "../https_out/http_client.ts";
import type { Actor } from "../runtime/actor.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Store } from "../store/store.ts";
import { ForwardDeliverer } from "./forward_deliverer.ts";

/** What the makers need of the engine. */
export interface ForwardActorDeps {
  config: Config;
  store: Store;
  clock: Clock;
  log: Logger;
  sender?: HttpSender;
  appAcks: AppAcks;
  notify(actorId: string): void;
  decode(payload: Uint8Array): string;
  pollMs: number;
  /** Wraps each deliverer (the engine's fencing: one live activation across processes). */
  wrap?: (actorId: string, deliverer: Deliverer) => Deliverer;
  /** Where `forward-in` actors plan large messages, off the engine's thread (plan_threads.ts). */
  threads?: OffloadSettings;
}

/** The makers of `forward` and `forward-in` actors, and the ids of the `forward` ones. */
export function forwardActors(deps: ForwardActorDeps): {
  makers: Record<"forward" | "forward-in", (id: string, rest: string) => Actor | undefined>;
  actorIds: string[];
} {
  const { config, store, clock, log, sender } = deps;
  const destinations = config.destinations.filter((d) => d.forward);
  // One strategy per destination for the engine's life: a cached token outlives deactivation.
  const credentials = new Map(destinations.map((d) => [
    d.id,
    createCredentialStrategy(
      // The strategies read `auth` (and `url` to sign); forward has no verification token.
      { ...d.forward!, verifyMethod: "POST" } as unknown as HttpsConfig,
      {
        sender: sender!,
        clock,
        log,
        timeoutMs: d.forward!.timeoutSeconds * 1000,
        destinationId: d.id,
      },
    ),
  ]));
  return {
    actorIds: sender ? destinations.map((d) => `forward:${d.id}`) : [],
    makers: {
      forward: (id, destinationId) => {
        const d = destinations.find((x) => x.id === destinationId);
        if (!d || !sender) return undefined;
        const deliverer = new ForwardDeliverer({
          destinationId,
          forward: d.forward!,
          credentials: credentials.get(d.id)!,
          sender,
          getMessage: (messageId) => store.getMessage(messageId),
          appAcks: deps.appAcks,
          clock,
          log,
        });
        return new DeliveryActor({
          id,
          kind: "forward",
          store,
          deliverer: deps.wrap ? deps.wrap(id, deliverer) : deliverer,
          clock,
          log,
          pollMs: deps.pollMs,
        });
      },
      "forward-in": (id, integrationId) => {
        if (!config.integrations.some((i) => i.id === integrationId && i.forward)) return undefined;
        return new InboundActor({
          id,
          kind: "forward-in",
          // The running config per message (a reload swaps what `deps.config` gives).
          get config() {
            return deps.config;
          },
          store,
          clock,
          log,
          notify: deps.notify,
          decode: deps.decode,
          pollMs: deps.pollMs,
          appAcks: deps.appAcks,
          ...(deps.threads ? { threads: deps.threads } : {}),
        });
      },
    },
  };
}
