/**
 * Tokens from a token endpoint, for the strategies that get one (OAuth 2.0 client credentials,
 * JWT bearer, SMART Backend Services): one token request (RFC 6749 §4.4, RFC 7523), a form POST
 * whose refusals become errors naming the endpoint, the HTTP status and the OAuth `error` /
 * `error_description` (the access token itself is never put in a message); the token cached and
 * sent as `authorization: Bearer <token>`. Each strategy only says what its form (and headers)
 * hold.
 * @module
 */

import { describeResponse, type HttpSender, HttpSendError } from "../http_client.ts";
import { CredentialError } from "./strategy.ts";
import type {
  CredentialInfo,
  CredentialStrategy,
  HttpsAuthConfig,
  StrategyDeps,
} from "./strategy.ts";
import { MAX_TOKEN_LIFETIME_S, TokenCache, type TokenGrant } from "./token_cache.ts";

/** A token request. */
export interface TokenRequest {
  sender: HttpSender;
  tokenUrl: string;
  form: URLSearchParams;
  /** Extra headers (e.g. `authorization: Basic …` for a client secret). */
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Token responses are small; anything bigger is not one. */
const MAX_TOKEN_RESPONSE = 64 * 1024;

/** POSTs the form and returns the granted token, or rejects with a {@link CredentialError}. */
export async function requestToken(request: TokenRequest): Promise<TokenGrant> {
  const where = `token endpoint ${request.tokenUrl}`;
  let response;
  try {
    response = await request.sender.send({
      url: request.tokenUrl,
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        ...request.headers,
      },
      body: request.form.toString(),
      timeoutMs: request.timeoutMs,
      maxBodyBytes: MAX_TOKEN_RESPONSE,
      ...(request.signal ? { signal: request.signal } : {}),
    });
  } catch (error) {
    const why = error instanceof HttpSendError ? error.message : String(error);
    throw new CredentialError(`${where}: ${why}`, { cause: error });
  }
  const json = parseJson(response.body);
  if (response.status < 200 || response.status >= 300) {
    const oauth = oauthError(json);
    const answer = oauth ? `HTTP ${response.status}: ${oauth}` : describeResponse(response);
    throw new CredentialError(`${where} answered ${answer}`, { status: response.status });
  }
  if (response.truncated) {
    throw new CredentialError(`${where}: the answer is over ${MAX_TOKEN_RESPONSE} bytes`);
  }
  if (!isObject(json)) {
    throw new CredentialError(`${where} answered HTTP ${response.status} without a JSON object`, {
      status: response.status,
    });
  }
  const token = json["access_token"];
  if (typeof token !== "string" || token === "") {
    throw new CredentialError(`${where}: the answer has no access_token`);
  }
  const type = json["token_type"];
  // RFC 6750 bearer tokens only; a DPoP or MAC token would be refused by the destination anyway.
  if (type !== undefined && (typeof type !== "string" || type.toLowerCase() !== "bearer")) {
    throw new CredentialError(
      `${where}: token_type is ${JSON.stringify(type)}; only "Bearer" tokens can be used`,
    );
  }
  if (/[^\x21-\x7e]/.test(token)) {
    throw new CredentialError(`${where}: the access_token has characters a header cannot carry`);
  }
  const expires = readExpiresIn(json["expires_in"]);
  if (expires === null) {
    const said = clip(JSON.stringify(json["expires_in"]), 100);
    throw new CredentialError(`${where}: expires_in is ${said}, not a number of seconds`);
  }
  return { accessToken: token, ...(expires !== undefined ? { expiresInS: expires } : {}) };
}

/**
 * `expires_in` as seconds, at most {@link MAX_TOKEN_LIFETIME_S} (a larger one, even one too large
 * for a double, is cut to it); undefined when absent, null when not a number of seconds ≥ 0.
 */
function readExpiresIn(value: unknown): number | undefined | null {
  if (value === undefined || value === null) return undefined;
  // Some servers send it as a string of digits.
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === "number" && n >= 0 ? Math.min(n, MAX_TOKEN_LIFETIME_S) : null;
}

/** `error: error_description` of an OAuth error answer (RFC 6749 §5.2), if it is one. */
function oauthError(json: unknown): string | undefined {
  if (!isObject(json) || typeof json["error"] !== "string") return undefined;
  const code = clip(json["error"], 100);
  const text = json["error_description"];
  return typeof text === "string" && text ? `${code}: ${clip(text, 300)}` : code;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A strategy that sends the cached token of `cache`. */
export class BearerTokenStrategy implements CredentialStrategy {
  /** The config's `auth.type`. */
  readonly type: HttpsAuthConfig["type"];
  readonly #cache: TokenCache;

  /** Sends tokens from `cache`, for an `auth` of `type`. */
  constructor(type: HttpsAuthConfig["type"], cache: TokenCache) {
    this.type = type;
    this.#cache = cache;
  }

  /** The bearer header, fetching a token first when none is usable. */
  async apply(request: { signal?: AbortSignal }): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.#cache.get(request.signal)}` };
  }

  /** Drops the cached token (the destination answered 401). */
  invalidate(): void {
    this.#cache.invalidate();
  }

  /** The type and the cached token's times. */
  info(): CredentialInfo {
    const c = this.#cache;
    if (c.expiresAt === undefined) return { type: this.type };
    return {
      type: this.type,
      tokenExpiresAt: c.expiresAt,
      ...(c.useUntil !== undefined ? { tokenRefreshAt: c.useUntil } : {}),
      ...(c.fetchedAt !== undefined ? { tokenFetchedAt: c.fetchedAt } : {}),
    };
  }
}

/** One token request's form and extra headers. */
export interface GrantRequest {
  form: URLSearchParams;
  headers?: Record<string, string>;
}

/** A strategy that gets its bearer token from `tokenUrl` with the request `grant` builds. */
export function tokenGrantStrategy(options: {
  type: HttpsAuthConfig["type"];
  tokenUrl: string;
  deps: StrategyDeps;
  grant(): Promise<GrantRequest> | GrantRequest;
}): CredentialStrategy {
  const { deps } = options;
  const cache = new TokenCache({
    clock: deps.clock,
    log: deps.log,
    destinationId: deps.destinationId,
    fetch: async (signal) => {
      const { form, headers } = await options.grant();
      return await requestToken({
        sender: deps.sender,
        tokenUrl: options.tokenUrl,
        form,
        ...(headers ? { headers } : {}),
        timeoutMs: deps.timeoutMs,
        ...(signal ? { signal } : {}),
      });
    },
  });
  return new BearerTokenStrategy(options.type, cache);
}
