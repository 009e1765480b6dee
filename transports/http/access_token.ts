/**
 * The engine's own access tokens: short-lived JWTs (HS256, `typ: at+jwt`) naming the source and
 * its environment. The signing key is created once in KV (an atomic insert, so concurrent first
 * starts agree on one key) and read from there, so every node sharing the KV and every restart
 * accepts a token any of them issued.
 * @module
 */

import { errors, jwtVerify, SignJWT } from "jose";
import type { AuthStateStore } from "../../actors/ports.ts";

/** Who a token was issued to. */
export interface TokenSubject {
  sourceId: string;
  environment: string;
  clientId: string;
}

/** A newly issued token. */
export interface IssuedToken {
  token: string;
  /** Seconds from now until it expires. */
  expiresIn: number;
}

/** The outcome of {@link AccessTokens.verify}. */
export type VerifiedToken =
  | ({ ok: true; expiresAt: number } & TokenSubject)
  | { ok: false; error: string };

/** What `POST /endpoint` needs of the token service. */
export interface AccessTokenVerifier {
  /** Checks a bearer token's signature, issuer, audience and expiry. */
  verify(token: string): Promise<VerifiedToken>;
}

/** How {@link AccessTokens.open} is set up. */
export interface AccessTokensOptions {
  /** Where the signing key is kept (the engine's store: `store.auth`). */
  state: AuthStateStore;
  /** Token lifetime in seconds (default 300). */
  lifetimeSeconds?: number;
  /** Allowed clock difference between nodes when checking expiry, seconds (default 5). */
  clockToleranceSeconds?: number;
  /** `Date.now` unless a test injects a clock. */
  now?: () => number;
}

/** Verified tokens remembered at most (clients reuse one token for its whole lifetime). */
const MAX_REMEMBERED = 10_000;
const ISSUER = "urn:engine";
const AUDIENCE = "urn:engine:endpoint";
const TYPE = "at+jwt";

/** Issues and verifies access tokens; see the module doc. */
export class AccessTokens implements AccessTokenVerifier {
  /** Token lifetime in seconds. */
  readonly lifetimeSeconds: number;
  readonly #key: CryptoKey;
  readonly #kid: string;
  readonly #tolerance: number;
  readonly #now: () => number;
  /** Tokens that verified, by their full text: a repeat skips the signature check. */
  readonly #verified = new Map<string, TokenSubject & { expiresAt: number }>();

  private constructor(key: CryptoKey, kid: string, options: AccessTokensOptions) {
    this.#key = key;
    this.#kid = kid;
    this.lifetimeSeconds = options.lifetimeSeconds ?? 300;
    this.#tolerance = options.clockToleranceSeconds ?? 5;
    this.#now = options.now ?? Date.now;
  }

  /** Reads the signing key from KV, creating it on first use. */
  static async open(options: AccessTokensOptions): Promise<AccessTokens> {
    const stored = await options.state.signingKey((options.now ?? Date.now)());
    const key = await crypto.subtle.importKey(
      "raw",
      stored.secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return new AccessTokens(key, stored.kid, options);
  }

  /** A token for `subject`, valid for {@link lifetimeSeconds}. */
  async issue(subject: TokenSubject): Promise<IssuedToken> {
    const iat = Math.floor(this.#now() / 1000);
    const token = await new SignJWT({ client_id: subject.clientId, env: subject.environment })
      .setProtectedHeader({ alg: "HS256", typ: TYPE, kid: this.#kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(subject.sourceId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.lifetimeSeconds)
      .setJti(crypto.randomUUID())
      .sign(this.#key);
    return { token, expiresIn: this.lifetimeSeconds };
  }

  /**
   * See {@link AccessTokenVerifier.verify}; errors say what is wrong without echoing the token. A
   * token seen before is answered from memory until it expires (the same text carries the same
   * signature, so checking it again would find the same).
   */
  async verify(token: string): Promise<VerifiedToken> {
    const known = this.#verified.get(token);
    if (known) {
      if (known.expiresAt + this.#tolerance * 1000 > this.#now()) return { ok: true, ...known };
      this.#verified.delete(token); // checked again below, for the "expired at" answer
    }
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        typ: TYPE,
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["sub", "exp", "env", "client_id"],
        clockTolerance: this.#tolerance,
        currentDate: new Date(this.#now()),
      });
      const { sub, env, client_id: clientId, exp } = payload;
      if (typeof sub !== "string" || typeof env !== "string" || typeof clientId !== "string") {
        return { ok: false, error: "the access token's claims are malformed" };
      }
      const subject = { sourceId: sub, environment: env, clientId, expiresAt: exp! * 1000 };
      if (this.#verified.size >= MAX_REMEMBERED) {
        // Forget the oldest remembered token (Map keeps insertion order).
        this.#verified.delete(this.#verified.keys().next().value!);
      }
      this.#verified.set(token, subject);
      return { ok: true, ...subject };
    } catch (error) {
      return { ok: false, error: describe(error) };
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) {
    const exp = error.payload.exp;
    return typeof exp === "number"
      ? `the access token expired at ${new Date(exp * 1000).toISOString()}: get a new one`
      : "the access token expired: get a new one";
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return "the access token's signature does not verify: it was not issued by this engine";
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `the access token's ${error.claim} claim is not this engine's (${error.reason})`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return "the access token is not signed the way this engine signs its tokens";
  }
  return "the access token is not a well-formed JWT";
}
