/**
 * Verifying a signed JWT client assertion (RFC 7523, `private_key_jwt`) against the source's keys:
 * RS384 or ES384 only, `kid` required, `iss = sub = client id`, `aud` one of the token URLs,
 * `exp` present and at most 5 minutes ahead, `jti` used once (see `AuthStateStore.useJti`).
 *
 * Keys come from the source's inline JWKS or its JWKS URL. A fetched JWKS is cached (10 minutes
 * by default); an unknown `kid` triggers one refetch, at most once per cooldown (30 s by default),
 * so a client can rotate keys without the engine restarting and cannot make it fetch in a loop.
 * @module
 */

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from "jose";
import type { AuthStateStore, Config } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";

/** An API source from the config. */
export type SourceConfig = Config["sources"][number];

/** The `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Signature algorithms accepted on assertions. */
export const ASSERTION_ALGORITHMS = ["RS384", "ES384"] as const;

/** The outcome of {@link ClientAssertionVerifier.verify}. */
export type AssertionResult =
  | { ok: true; source: SourceConfig }
  | {
    ok: false;
    /** `invalid_client` (401) for a refused assertion; `invalid_request` (400) for a malformed one. */
    error: "invalid_client" | "invalid_request";
    /** Exactly what is wrong, for the client. */
    description: string;
  };

/** How a {@link ClientAssertionVerifier} is set up. */
export interface ClientAssertionOptions {
  /** The API sources of the config; those with `jwks` or `jwksUrl` may use assertions. */
  sources: readonly SourceConfig[];
  /** Where used `jti` values are recorded (the engine's store: `store.auth`), so one assertion
   * is accepted once across every process sharing the KV. */
  state: AuthStateStore;
  /** Latest `exp` accepted, in seconds from now (default 300). */
  maxLifetimeSeconds?: number;
  /** Allowed clock difference with the client, seconds (default 10). */
  clockToleranceSeconds?: number;
  /** Least time between two fetches of a JWKS URL for an unknown `kid`, ms (default 30,000). */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again, ms (default 600,000). */
  jwksMaxAgeMs?: number;
  /** Timeout of one JWKS fetch, ms (default 5,000). */
  jwksTimeoutMs?: number;
  /** `fetch` for JWKS URLs (tests inject one that trusts their CA). */
  fetch?: typeof fetch;
  /** `Date.now` unless a test injects a clock. */
  now?: () => number;
}

type KeySet = ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet>;

const refuse = (description: string): AssertionResult => ({
  ok: false,
  error: "invalid_client",
  description,
});

/** Verifies client assertions; see the module doc. */
export class ClientAssertionVerifier {
  readonly #byClientId = new Map<string, SourceConfig>();
  readonly #keySets = new Map<string, KeySet>();
  readonly #options: ClientAssertionOptions;
  readonly #now: () => number;

  /** Builds key sets lazily, on a source's first assertion. */
  constructor(options: ClientAssertionOptions) {
    for (const s of options.sources) this.#byClientId.set(s.clientId, s);
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Checks `assertion` for a token request. `audiences` are the URLs the token endpoint is known
   * by; `clientId` is the form's `client_id` when the client sent one (it must match `iss`).
   */
  async verify(
    assertion: string,
    context: { audiences: readonly string[]; clientId?: string },
  ): Promise<AssertionResult> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch {
      return {
        ok: false,
        error: "invalid_request",
        description: "client_assertion is not a signed JWT (header.payload.signature, base64url)",
      };
    }
    const alg = ASSERTION_ALGORITHMS.find((a) => a === header.alg);
    if (alg === undefined) {
      return refuse(
        `algorithm ${JSON.stringify(header.alg ?? null)} is not accepted: sign with RS384 or ES384`,
      );
    }
    const kid = header.kid;
    if (typeof kid !== "string" || kid === "") {
      return refuse("the assertion's header has no kid: name the key that signed it");
    }
    const { iss, sub } = claims;
    if (typeof iss !== "string" || iss === "") {
      return refuse("the assertion has no iss: it must be your client id");
    }
    if (sub !== iss) {
      return refuse(
        `iss (${JSON.stringify(iss)}) and sub (${
          JSON.stringify(sub ?? null)
        }) must both be your client id`,
      );
    }
    if (context.clientId !== undefined && context.clientId !== iss) {
      return refuse(
        `client_id ${JSON.stringify(context.clientId)} does not match the assertion's iss ${
          JSON.stringify(iss)
        }`,
      );
    }
    const source = this.#byClientId.get(iss);
    if (!source) return refuse(`unknown client id ${JSON.stringify(iss)}`);
    if (source.auth.secret) {
      return refuse(`client ${JSON.stringify(iss)} authenticates with a client secret, not a JWT`);
    }
    const problem = this.#checkTimes(claims);
    if (problem) return refuse(problem);
    if (typeof claims.jti !== "string" || claims.jti === "") {
      return refuse("the assertion has no jti: give each assertion a unique id");
    }

    const keySet = this.#keySet(source);
    let key: CryptoKey;
    try {
      key = await keySet({ alg, kid });
    } catch (error) {
      return refuse(await keyProblem(error, keySet, source, kid, alg));
    }
    try {
      await jwtVerify(assertion, key, {
        algorithms: [alg],
        issuer: iss,
        subject: iss,
        audience: [...context.audiences],
        requiredClaims: ["exp", "jti"],
        clockTolerance: this.#options.clockToleranceSeconds ?? 10,
        currentDate: new Date(this.#now()),
      });
    } catch (error) {
      return refuse(claimProblem(error, claims, context.audiences, kid));
    }
    const used = await this.#options.state.useJti(
      iss,
      claims.jti,
      (claims.exp as number) * 1000,
      this.#now,
    );
    if (!used) {
      return refuse(
        `jti ${JSON.stringify(claims.jti)} was already used: assertions are single-use`,
      );
    }
    return { ok: true, source };
  }

  /** `exp` present, not past, and at most the allowed lifetime ahead. */
  #checkTimes(claims: JWTPayload): string | undefined {
    const { exp } = claims;
    if (typeof exp !== "number" || !Number.isFinite(exp)) {
      return "the assertion has no exp (expiry, seconds since 1970)";
    }
    const now = this.#now() / 1000;
    const tolerance = this.#options.clockToleranceSeconds ?? 10;
    const max = this.#options.maxLifetimeSeconds ?? 300;
    if (exp > now + max + tolerance) {
      return `exp is ${Math.round(exp - now)} s ahead: at most ${max} s is accepted`;
    }
    if (exp <= now - tolerance) {
      return `the assertion expired at ${new Date(exp * 1000).toISOString()} (now ${
        new Date(now * 1000).toISOString()
      })`;
    }
    return undefined;
  }

  #keySet(source: SourceConfig): KeySet {
    let set = this.#keySets.get(source.id);
    if (set) return set;
    const o = this.#options;
    if (source.auth.jwks) {
      set = createLocalJWKSet(source.auth.jwks as { keys: JWK[] });
    } else {
      set = createRemoteJWKSet(new URL(source.auth.jwksUrl!), {
        cooldownDuration: o.jwksCooldownMs ?? 30_000,
        cacheMaxAge: o.jwksMaxAgeMs ?? 600_000,
        timeoutDuration: o.jwksTimeoutMs ?? 5_000,
        ...(o.fetch ? { [customFetch]: o.fetch } : {}),
      });
    }
    this.#keySets.set(source.id, set);
    return set;
  }
}

/** Why no key could be found for `kid`, in the client's terms. */
async function keyProblem(
  error: unknown,
  keySet: KeySet,
  source: SourceConfig,
  kid: string,
  alg: string,
): Promise<string> {
  const where = source.auth.jwksUrl ? `the JWKS at ${source.auth.jwksUrl}` : "the configured JWKS";
  if (error instanceof errors.JWKSNoMatchingKey) {
    const jwks: { keys: JWK[] } | undefined = await keySet.jwks();
    const same = jwks?.keys.find((k) => k.kid === kid);
    if (same) {
      return `key ${JSON.stringify(kid)} in ${where} cannot verify ${alg} ` +
        `(it is kty ${same.kty}${same.alg ? `, alg ${same.alg}` : ""}${
          same.use ? `, use ${same.use}` : ""
        })`;
    }
    return `unknown key: no key with kid ${JSON.stringify(kid)} in ${where}`;
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return `${where} has more than one key with kid ${JSON.stringify(kid)}`;
  }
  if (error instanceof errors.JWKSTimeout) return `fetching ${where} timed out`;
  if (error instanceof errors.JWKSInvalid) return `${where} is not a valid JWKS`;
  const reason = errorMessage(error);
  return source.auth.jwksUrl
    ? `cannot fetch ${where}: ${reason}`
    : `key ${JSON.stringify(kid)} in ${where} cannot be used: ${reason}`;
}

/** What the signature or claim check refused, in the client's terms. */
function claimProblem(
  error: unknown,
  claims: JWTPayload,
  audiences: readonly string[],
  kid: string,
): string {
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return `bad signature: the assertion does not verify with key ${JSON.stringify(kid)}`;
  }
  if (error instanceof errors.JWTExpired) {
    return `the assertion expired at ${new Date((claims.exp as number) * 1000).toISOString()}`;
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "aud") {
      return `wrong audience ${JSON.stringify(claims.aud ?? null)}: expected the token URL, ${
        audiences.map((a) => JSON.stringify(a)).join(" or ")
      }`;
    }
    if (error.claim === "nbf") return "the assertion is not valid yet (nbf is in the future)";
    if (error.claim === "iat") return "the assertion's iat is invalid";
    return `the assertion's ${error.claim} claim is invalid: ${error.reason}`;
  }
  if (error instanceof errors.JWTInvalid) return `the assertion is invalid: ${error.message}`;
  return `the assertion cannot be verified: ${errorMessage(error)}`;
}
