/**
 * Signed JWT assertions (RFC 7523) for the JWT bearer grant and SMART Backend Services client
 * authentication: `kid` in the header, `iss`, `sub`, `aud`, `iat`, `exp` (4 minutes ahead, inside
 * the 5 minutes servers allow even with some clock skew) and a fresh `jti` every time.
 * @module
 */

import { importPKCS8, SignJWT } from "jose";
import type { Secret } from "../../config/mod.ts";
import type { Clock } from "../../runtime/clock.ts";
import { CredentialError } from "./strategy.ts";
import { errorMessage } from "../../runtime/errors.ts";

/** Signing algorithms the config allows. */
export type AssertionAlgorithm = "RS384" | "ES384" | "RS256" | "ES256";

/** What an {@link AssertionSigner} signs with. */
export interface AssertionSignerOptions {
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  privateKey: Secret;
  algorithm: AssertionAlgorithm;
  keyId: string;
  clock: Clock;
  /** Names the key in errors, e.g. `destination "ehr": auth.privateKey`. */
  label: string;
}

/** The claims that differ between grants. */
export interface AssertionClaims {
  iss: string;
  sub: string;
  aud: string;
}

/** Lifetime of an assertion. */
export const ASSERTION_LIFETIME_S = 240;

/** Signs assertions with one key, imported once. */
export class AssertionSigner {
  readonly #options: AssertionSignerOptions;
  #key: Promise<CryptoKey> | undefined;

  /** A signer with `options.privateKey`; the key is read at the first {@link sign}. */
  constructor(options: AssertionSignerOptions) {
    this.#options = options;
  }

  /** The signer of a destination's `https.auth` (its key, algorithm and `kid`). */
  static forDestination(
    auth: { privateKey: Secret; algorithm: AssertionAlgorithm; keyId: string },
    deps: { clock: Clock; destinationId: string },
  ): AssertionSigner {
    return new AssertionSigner({
      privateKey: auth.privateKey,
      algorithm: auth.algorithm,
      keyId: auth.keyId,
      clock: deps.clock,
      label: `destination "${deps.destinationId}": https.auth.privateKey`,
    });
  }

  /** A compact JWS of `claims` plus `iat`, `exp` and a new `jti`. */
  async sign(claims: AssertionClaims): Promise<string> {
    const { algorithm, keyId, clock } = this.#options;
    const key = await (this.#key ??= this.#import());
    const now = Math.floor(clock.now() / 1000);
    return await new SignJWT({})
      .setProtectedHeader({ alg: algorithm, kid: keyId, typ: "JWT" })
      .setIssuer(claims.iss)
      .setSubject(claims.sub)
      .setAudience(claims.aud)
      .setIssuedAt(now)
      .setExpirationTime(now + ASSERTION_LIFETIME_S)
      .setJti(crypto.randomUUID())
      .sign(key);
  }

  async #import(): Promise<CryptoKey> {
    const { privateKey, algorithm, label } = this.#options;
    const pem = privateKey.reveal().trim();
    const where = `${label} (${privateKey.source})`;
    if (/-----BEGIN (RSA|EC) PRIVATE KEY-----/.test(pem)) {
      throw new CredentialError(
        `${where} is a PKCS#1/SEC1 key; convert it to PKCS#8 with ` +
          "`openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.p8.pem`",
      );
    }
    if (pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
      throw new CredentialError(`${where} is encrypted; give it unencrypted (PKCS#8 PEM)`);
    }
    try {
      return await importPKCS8(pem, algorithm);
    } catch (error) {
      const why = errorMessage(error);
      throw new CredentialError(
        `${where} is not a PKCS#8 PEM private key for ${algorithm}: ${why}`,
        { cause: error },
      );
    }
  }
}
