/**
 * Where the verification state of HTTPS destinations lives: one KV record per destination,
 * `["destinations", <id>, "verification"]`, so it survives restarts and is shared by every
 * process on the same KV. A verification holds for the URL it was made against only.
 * @module
 */

import { keys } from "./keys.ts";

/** The outcome of the latest verification of a destination. */
export interface VerificationRecord {
  verified: boolean;
  /** The URL the challenge went to; a destination moved to another URL must be verified again. */
  url: string;
  /** When the check was made (ms). */
  checkedAt: number;
  /** Same as `checkedAt` when `verified`. */
  verifiedAt?: number;
  /** The destination's HTTP status, when it answered. */
  status?: number;
  /** What happened, in words. */
  reason: string;
}

/** The KV key of a destination's verification record. */
export function verificationKey(destinationId: string): Deno.KvKey {
  return keys.verification(destinationId);
}

/** Reads and writes verification records. */
export class VerificationStore {
  readonly #kv: Deno.Kv;

  /** Records kept in `kv` (the store's KV). */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** The latest record of `destinationId`, if it was ever checked. */
  async get(destinationId: string): Promise<VerificationRecord | undefined> {
    const entry = await this.#kv.get<VerificationRecord>(verificationKey(destinationId));
    return entry.value ?? undefined;
  }

  /** Replaces the record of `destinationId`: the latest check decides. */
  async set(destinationId: string, record: VerificationRecord): Promise<void> {
    await this.#kv.set(verificationKey(destinationId), record);
  }

  /** True when the latest check of `destinationId` succeeded against `url`. */
  async isVerified(destinationId: string, url: string): Promise<boolean> {
    return isVerifiedFor(await this.get(destinationId), url);
  }
}

/** True when `record` is a success for `url`. */
export function isVerifiedFor(record: VerificationRecord | undefined, url: string): boolean {
  return record?.verified === true && record.url === url;
}
