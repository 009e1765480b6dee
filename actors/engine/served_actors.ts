/**
 * What this node's config can build, for its heartbeat (`NodeRecord.serves`, see
 * `actors/runtime/serves.ts`): one pattern per actor the engine's factory (engine.ts) makes, under
 * the same conditions. Scale-out gives an actor only to a node that serves it.
 * @module
 */

import type { Config } from "../config/mod.ts";
import { pollActorId } from "../sftp/poll_actor.ts";
import { destinationActorId } from "./identities.ts";

/** What, beyond the config, decides whether the factory makes an actor. */
export interface ServedActorsInput {
  /** The running config (MLLP ports, destinations, SFTP-fed integrations). */
  config: Config;
  /** HTTPS destinations are built (the engine has an HTTP sender). */
  https: boolean;
  /** SFTP actors are built (the engine has an SFTP connector). */
  sftp: boolean;
  /** The `forward:` actor ids the factory builds (fixed at the engine's start). */
  forwardIds: readonly string[];
  /** The config `forward-in:` actors are built from (the one at the engine's start). */
  forwardConfig: Config;
}

/**
 * The patterns of every actor the factory builds: `mllp-in:<port>:*` per MLLP listener port,
 * the ids of the destinations' and pollers' actors, and those of the inbound queues of
 * integrations fed otherwise (SFTP, the HTTPS API, forwarding). Sorted, without repeats.
 */
export function servedActors(input: ServedActorsInput): string[] {
  const { config } = input;
  const out = new Set<string>();
  for (const i of config.integrations) {
    if (i.mllp) out.add(`mllp-in:${i.mllp.port}:*`);
    // The `sftp` maker builds the inbound actor of any integration not fed by MLLP.
    else out.add(`sftp:${i.id}`);
    if (input.sftp && i.sftp) out.add(pollActorId(i.id));
  }
  for (const d of config.destinations) {
    if (d.mllp) out.add(destinationActorId(d));
    if (d.https && input.https) out.add(`https:${d.id}`);
    if ((d.sftp || d.sftpOutbox) && input.sftp) out.add(`sftp-out:${d.id}`);
  }
  for (const id of input.forwardIds) out.add(id);
  for (const i of input.forwardConfig.integrations) {
    if (i.forward) out.add(`forward-in:${i.id}`);
  }
  return [...out].sort();
}
