/**
 * What every credential strategy of an HTTPS destination is: it adds headers to a request about to
 * go out (a bearer token, a signature), and forgets a cached token the destination refused.
 * @module
 */

import type { DestinationConfig } from "../../config/mod.ts";
import type { Clock } from "../../runtime/clock.ts";
import type { Logger } from "../../runtime/log.ts";
import type { HttpSender } from "../http_client.ts";

/** The `https` section of a destination. */
export type HttpsConfig = NonNullable<DestinationConfig["https"]>;
/** The `auth` section of an HTTPS destination. */
export type HttpsAuthConfig = HttpsConfig["auth"];
/** One kind of `auth`, by its `type`. */
export type AuthOf<T extends HttpsAuthConfig["type"]> = Extract<HttpsAuthConfig, { type: T }>;

/** A request about to go out, as a strategy sees it (a signature covers all of it). */
export interface OutgoingRequest {
  method: string;
  url: string;
  /** Header names in lower case; the strategy's headers are added to these. */
  headers: Record<string, string>;
  body: Uint8Array | string;
  /** Aborts a token request made on the way. */
  signal?: AbortSignal;
}

/** What the admin endpoint may show of a strategy: never a token or a key. */
export interface CredentialInfo {
  type: HttpsAuthConfig["type"];
  /** When the cached access token expires (ms), if one is cached. */
  tokenExpiresAt?: number;
  /** When it will be replaced (shortly before it expires). */
  tokenRefreshAt?: number;
  /** When it was fetched (ms). */
  tokenFetchedAt?: number;
}

/** One way of proving who the engine is to a destination. */
export interface CredentialStrategy {
  /** The config's `auth.type`. */
  readonly type: HttpsAuthConfig["type"];
  /**
   * The headers (lower-case names) to add to `request`. Rejects with a {@link CredentialError}
   * when the credentials cannot be had (token endpoint refused, unusable key).
   */
  apply(request: OutgoingRequest): Promise<Record<string, string>>;
  /** Forgets a cached token, so the next request fetches a new one (after a 401). */
  invalidate(): void;
  /** A safe summary for the admin endpoint. */
  info(): CredentialInfo;
}

/** Credentials could not be obtained; the message says why and never holds a secret. */
export class CredentialError extends Error {
  /** The token endpoint's HTTP status, when it answered. */
  readonly status?: number;

  /** An error saying `message`; `status` is the token endpoint's answer, if any. */
  constructor(message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options);
    this.name = "CredentialError";
    if (options?.status !== undefined) this.status = options.status;
  }
}

/** What a strategy needs besides its config. */
export interface StrategyDeps {
  /** Token endpoint requests go through the same sender as deliveries. */
  sender: HttpSender;
  clock: Clock;
  log: Logger;
  /** Deadline of a token endpoint request. */
  timeoutMs: number;
  /** For log lines. */
  destinationId: string;
}
