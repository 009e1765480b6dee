/**
 * The translations of one received message (HL7 from JSON, a FHIR bundle, a shaped payload),
 * prepared for the commit that stores the message with its routes: none is stored without them,
 * and the request waits for one commit instead of one more per translation.
 * @module
 */

import type { DerivedMessage, Store } from "../store/mod.ts";

/**
 * Collects the translations of `originalId` for `Store.accept`'s `derived`.
 *
 * @example
 * ```ts ignore
 * const translations = new Translations(store, messageId);
 * const hl7Id = await translations.add(encoder.encode(hl7), "application/hl7-v2");
 * await store.accept({ ...request, messageId, deliveries, derived: translations.prepared });
 * ```
 */
export class Translations {
  /** What the accept commit stores, in the order added. */
  readonly prepared: DerivedMessage[] = [];
  readonly #store: Pick<Store, "prepareDerived">;
  readonly #originalId: string;

  /** Translations of the message to be stored as `originalId`. */
  constructor(store: Pick<Store, "prepareDerived">, originalId: string) {
    this.#store = store;
    this.#originalId = originalId;
  }

  /**
   * Prepares one translation and returns its message id, for a delivery's `messageId`. A large
   * payload's chunks are written now (marked pending until the accept commit); a small one writes
   * nothing before it.
   */
  async add(payload: Uint8Array, contentType: string): Promise<string> {
    const made = await this.#store.prepareDerived(this.#originalId, payload, contentType);
    this.prepared.push(made);
    return made.id;
  }
}
