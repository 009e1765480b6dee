/**
 * The basic option: the destination's verification token sent as a bearer token (the delivery
 * adds the `verification-token` header itself, whatever the strategy).
 * @module
 */

import type { Secret } from "../../config/mod.ts";
import type { CredentialInfo, CredentialStrategy } from "./strategy.ts";

/** `authorization: Bearer <verification token>`. */
export class StaticTokenStrategy implements CredentialStrategy {
  /** Always `token`. */
  readonly type = "token";
  readonly #token: Secret;

  /** Sends `token` (the destination's `verificationToken`). */
  constructor(token: Secret) {
    this.#token = token;
  }

  /** The bearer header. */
  apply(): Promise<Record<string, string>> {
    return Promise.resolve({ authorization: `Bearer ${this.#token.reveal()}` });
  }

  /** Nothing cached: a fixed token cannot be renewed. */
  invalidate(): void {}

  /** `{type: "token"}`. */
  info(): CredentialInfo {
    return { type: this.type };
  }
}
