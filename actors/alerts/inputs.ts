/**
 * The engine's answers to what alert rules ask: failed logs, actor statuses, the last message of
 * an integration, the store's health, and the end of validity of every certificate and SSH key
 * the config holds.
 * @module
 */

import { X509Certificate } from "node:crypto";
import type { Config } from "../config/mod.ts";
import { destinationActorId } from "../engine/identities.ts";
import type { ActorStatus } from "../runtime/actor.ts";
import type { Store } from "../store/store.ts";
import type { LogRecord } from "../store/types.ts";
import type { AlertInputs, FailedLogs } from "./conditions.ts";

/** Pages of logs read at most to count failures (bounded work per evaluation). */
const MAX_PAGES = 20;

/** {@link AlertInputs} over a store, the actors' statuses and the running config. */
export function engineInputs(options: {
  store: Store;
  actors: () => Promise<ActorStatus[]>;
  config: () => Config;
}): AlertInputs {
  const { store } = options;
  const failedLogs: NonNullable<AlertInputs["failedLogs"]> = async (filter, atLeast) => {
    let n = 0;
    let newest: FailedLogs["newest"];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const got = await store.listLogs({
        status: "FAILED",
        since: filter.since,
        ...(filter.integrationId ? { integrationId: filter.integrationId } : {}),
        ...(filter.destinationId ? { destinationId: filter.destinationId } : {}),
        limit: Math.min(500, Math.max(1, atLeast - n)),
        ...(cursor ? { cursor } : {}),
      });
      // Pages are newest first: the first log listed is the newest.
      const first = got.logs[0];
      if (!newest && first) newest = brief(first);
      n += got.logs.length;
      if (n >= atLeast || !got.next) break;
      cursor = got.next;
    }
    return { count: n, ...(newest ? { newest } : {}) };
  };
  return {
    failedLogs,
    countFailed: async (filter, atLeast) => (await failedLogs(filter, atLeast)).count,
    actors: options.actors,
    async lastReceived(integrationId) {
      const got = await store.listLogs({ integrationId, type: "RECEIVE", limit: 1 });
      return got.logs[0]?.createdAt;
    },
    storeHealth: () => store.health.state,
    expiries: () => configExpiries(options.config()),
    actorOfDestination(id) {
      const d = options.config().destinations.find((x) => x.id === id);
      return d && destinationActorId(d);
    },
    destinationsOfActor(actorId) {
      return options.config().destinations.filter((d) => destinationActorId(d) === actorId)
        .map((d) => d.id);
    },
  };
}

/**
 * What a summary says of a FAILED log: its id, where, and why (its reason, with its last failed
 * attempt's when that differs: a skip's reason is the operator's, the peer's is the attempt's).
 */
function brief(log: LogRecord): NonNullable<FailedLogs["newest"]> {
  const last = log.attempts.at(-1);
  const tried = last?.outcome === "FAILED" ? last.reason : undefined;
  const reason = log.reason && tried && tried !== log.reason
    ? `${log.reason} (last attempt: ${tried})`
    : log.reason ?? tried;
  return {
    id: log.id,
    ...(log.integrationId ? { integrationId: log.integrationId } : {}),
    ...(log.destinationId ? { destinationId: log.destinationId } : {}),
    ...(reason ? { reason } : {}),
  };
}

/** The end of validity of each certificate (its first one, for a bundle) and SSH key. */
export function configExpiries(config: Config): { subject: string; notAfter: number }[] {
  const out: { subject: string; notAfter: number }[] = [];
  const cert = (subject: string, pem: string | undefined) => {
    if (!pem) return;
    try {
      const notAfter = Date.parse(new X509Certificate(pem).validTo);
      if (Number.isFinite(notAfter)) out.push({ subject, notAfter });
    } catch {
      // Not a certificate we can read: the TLS setup itself reports it.
    }
  };
  cert("http.tls.cert", config.http.tls?.cert.reveal());
  config.listeners.forEach((l) => cert(`listener ${l.port} tls.cert`, l.tls?.cert.reveal()));
  for (const d of config.destinations) {
    cert(`destination ${d.id} mllp.tls.cert`, d.mllp?.tls?.cert?.reveal());
    d.sftp?.keys.forEach((k, i) => {
      if (k.notAfter) {
        out.push({
          subject: `destination ${d.id} sftp key ${i}`,
          notAfter: Date.parse(k.notAfter),
        });
      }
    });
  }
  for (const i of config.integrations) {
    i.sftp?.keys.forEach((k, j) => {
      if (k.notAfter) {
        out.push({
          subject: `integration ${i.id} sftp key ${j}`,
          notAfter: Date.parse(k.notAfter),
        });
      }
    });
  }
  return out;
}
