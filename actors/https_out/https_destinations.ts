/**
 * Every HTTPS destination of a config, ready for the engine: one credential strategy each (kept
 * across actor activations, so a cached token outlives an idle deactivation), a deliverer for its
 * `https:<id>` actor, its verification, and the listing shown by `GET /admin/destinations`.
 * @module
 */

import type { Config, DestinationConfig } from "../config/mod.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import {
  createCredentialStrategy,
  type CredentialStrategy,
  type HttpsConfig,
} from "./credentials/mod.ts";
import { httpsQuery, type HttpsQueryRequest, type HttpsQueryResult } from "./query.ts";
import type { HttpSender } from "./http_client.ts";
import { type AttemptLogs, HttpsDeliverer } from "./https_deliverer.ts";
import { verifyDestination, type VerifyResult } from "./verification.ts";
import {
  isVerifiedFor,
  type VerificationRecord,
  type VerificationStore,
} from "../store/verifications.ts";

/** What {@link HttpsDestinations} is built from. */
export interface HttpsDestinationsOptions {
  config: Pick<Config, "destinations" | "environments" | "limits">;
  /** Where verification records live (the store's `verifications`). */
  records: VerificationStore;
  sender: HttpSender;
  clock: Clock;
  log: Logger;
  /**
   * The SEND logs (the store), whose attempt counts number each delivery's `x-engine-attempt`;
   * without them a deliverer counts its own attempts (1 again after a restart).
   */
  logs?: AttemptLogs;
}

/** One destination as `GET /admin/destinations` lists it. */
export interface DestinationView {
  id: string;
  name?: string;
  environment: string;
  /** `development`, `staging` or `production`. */
  environmentType: string;
  /** The destination's kind: its config key (`https`, `mllp`, `sftp`, …). */
  type: string;
  /**
   * Where it delivers (`mllp://host:port`, `sftp://user@host:port/folder` for those); null for a
   * kind without a remote address.
   */
  url: string | null;
  /** The credential strategy of an HTTPS destination. */
  auth?: string;
  /** True for HTTPS destinations in a production environment. */
  verificationRequired: boolean;
  /** Whether the latest verification succeeded for the current URL; null when not HTTPS. */
  verified: boolean | null;
  verifiedAt: number | null;
  /** The latest verification, whatever its outcome. */
  lastVerification?: VerificationRecord;
}

interface Entry {
  destination: DestinationConfig;
  https: HttpsConfig;
  credentials: CredentialStrategy;
  requireVerification: boolean;
}

/** See the module doc. */
export class HttpsDestinations {
  readonly #options: HttpsDestinationsOptions;
  readonly #records: VerificationStore;
  readonly #entries = new Map<string, Entry>();
  readonly #envType: Map<string, string>;

  /** Builds a strategy for every HTTPS destination of `options.config`. */
  constructor(options: HttpsDestinationsOptions) {
    this.#options = options;
    this.#records = options.records;
    this.#envType = new Map(options.config.environments.map((e) => [e.id, e.type]));
    for (const d of options.config.destinations) {
      if (!d.https) continue;
      this.#entries.set(d.id, {
        destination: d,
        https: d.https,
        credentials: createCredentialStrategy(d.https, {
          sender: options.sender,
          clock: options.clock,
          log: options.log,
          timeoutMs: d.https.timeoutSeconds * 1000,
          destinationId: d.id,
        }),
        requireVerification: this.#envType.get(d.environment) === "production",
      });
    }
  }

  /** The actor ids (`https:<destinationId>`) of every HTTPS destination. */
  actorIds(): string[] {
    return [...this.#entries.keys()].map((id) => `https:${id}`);
  }

  /** The verification records. */
  get records(): VerificationStore {
    return this.#records;
  }

  /** A deliverer for the actor of `destinationId`; undefined when it is not an HTTPS destination. */
  deliverer(destinationId: string): HttpsDeliverer | undefined {
    const e = this.#entries.get(destinationId);
    if (!e) return undefined;
    const { sender, clock, log, config } = this.#options;
    return new HttpsDeliverer({
      destinationId,
      https: e.https,
      credentials: e.credentials,
      sender,
      requireVerification: e.requireVerification,
      verifications: this.#records,
      clock,
      log,
      fallbackCharset: config.limits.fallbackCharset,
      ...(this.#options.logs ? { logs: this.#options.logs } : {}),
    });
  }

  /**
   * One synchronous request to `destinationId` (a query); undefined when it is not an HTTPS
   * destination.
   */
  query(
    destinationId: string,
    request: HttpsQueryRequest,
  ): Promise<HttpsQueryResult> | undefined {
    const e = this.#entries.get(destinationId);
    if (!e) return undefined;
    return httpsQuery({
      destinationId,
      https: e.https,
      credentials: e.credentials,
      sender: this.#options.sender,
      requireVerification: e.requireVerification,
      verifications: this.#records,
    }, request);
  }

  /** Verifies `destinationId`; undefined when it is not an HTTPS destination. */
  verify(destinationId: string, signal?: AbortSignal): Promise<VerifyResult> | undefined {
    const e = this.#entries.get(destinationId);
    if (!e) return undefined;
    const { sender, clock, log } = this.#options;
    return verifyDestination({
      destinationId,
      https: e.https,
      sender,
      credentials: e.credentials,
      records: this.#records,
      clock,
      log,
      ...(signal ? { signal } : {}),
    });
  }

  /** Every destination of the config (HTTPS or not), with its verification state from KV. */
  async list(): Promise<DestinationView[]> {
    const out: DestinationView[] = [];
    for (const d of this.#options.config.destinations) {
      const e = this.#entries.get(d.id);
      const base = {
        id: d.id,
        ...(d.name !== undefined ? { name: d.name } : {}),
        environment: d.environment,
        environmentType: this.#envType.get(d.environment) ?? "unknown",
      };
      if (!e) {
        out.push({
          ...base,
          ...where(d),
          verificationRequired: false,
          verified: null,
          verifiedAt: null,
        });
        continue;
      }
      const record = await this.#records.get(d.id);
      const verified = isVerifiedFor(record, e.https.url);
      out.push({
        ...base,
        type: "https",
        url: e.https.url,
        auth: e.https.auth.type,
        verificationRequired: e.requireVerification,
        verified,
        verifiedAt: verified ? record?.verifiedAt ?? null : null,
        ...(record ? { lastVerification: record } : {}),
      });
    }
    return out;
  }
}

/** Config keys of a destination that are not its kind. */
const COMMON_KEYS = new Set(["id", "name", "environment"]);

/** Type and address of a destination that is not HTTPS. */
function where(d: DestinationConfig): Pick<DestinationView, "type" | "url"> {
  if (d.mllp) {
    return { type: "mllp", url: `mllp${d.mllp.tls ? "s" : ""}://${d.mllp.host}:${d.mllp.port}` };
  }
  if (d.sftp) {
    const s = d.sftp;
    const folder = s.folder.startsWith("/") ? s.folder : `/${s.folder}`;
    return { type: "sftp", url: `sftp://${s.user}@${s.host}:${s.port}${folder}` };
  }
  const kind = Object.entries(d).find(([k, v]) => !COMMON_KEYS.has(k) && v !== undefined)?.[0];
  return { type: kind ?? "unknown", url: null };
}
