/**
 * The translations of one received message (HL7 from JSON, a FHIR bundle, a shaped payload),
 * prepared for the commit that stores the message with its routes (the API's accept, the inbound
 * actor's route): none is stored without them, and the message waits for one commit instead of
 * one more per translation.
 * @module
 */

import type { DerivedMessage, Store } from "../store/mod.ts";

/**
 * Collects the translations of `originalId` for `Store.accept`'s `derived`.
 *
 * @example
 * ```ts ignore
 * const translations = new Translations(store, {
 *   id: messageId,
 *   sender: { kind: "source", id: source.id },
 *   kind: "PatientAdmin.NewPatient",
 * });
 * const hl7Id = await translations.add(encoder.encode(hl7), "application/hl7-v2");
 * await store.accept({ ...request, messageId, deliveries, derived: translations.prepared });
 * ```
 */
export class Translations {
  /** What the commit stores, in the order added. */
  readonly prepared: DerivedMessage[] = [];
  readonly #store: Pick<Store, "prepareDerived">;
  readonly #original: TranslatedMessage;

  /** Translations of `original`, the message to be stored (or stored) under its id. */
  constructor(store: Pick<Store, "prepareDerived">, original: TranslatedMessage) {
    this.#store = store;
    this.#original = original;
  }

  /**
   * Prepares one translation and returns its message id, for a delivery's `messageId`. A large
   * payload's chunks are written now (marked pending until the commit); a small one writes nothing
   * before it, and is deflated after a dictionary of the sender's translations of this kind of
   * message to `contentType` (they share most of their text).
   */
  async add(payload: Uint8Array, contentType: string): Promise<string> {
    const { id, sender, kind } = this.#original;
    const made = await this.#store.prepareDerived(id, payload, contentType, {
      dictionary: { sender: `${sender.kind}:${sender.id}`, kind: `${kind} as ${contentType}` },
    });
    this.prepared.push(made);
    return made.id;
  }
}

/** The message translated: its id, who sent it, and its kind (its type, or its content type). */
export interface TranslatedMessage {
  id: string;
  sender: { kind: string; id: string };
  kind: string;
}
