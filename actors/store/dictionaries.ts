/**
 * Compression dictionaries for stored payloads: one per sender, kind of message (an integration's
 * `ADT^A01`, a source's `application/json`) and day, made from the first such message of the day.
 * The messages of that kind that follow are deflated after it ({@link deflateWithDictionary}): what
 * they share with it (segments, field layouts, codes) costs a few bytes instead of being deflated
 * afresh, so a 1.2 KB HL7 message is stored in ~250 bytes instead of ~570, in a third of the time.
 * Records name their dictionary (`MessageRecord.dictionary`); reading one back takes it from
 * memory or from its KV row.
 *
 * A dictionary row is committed on its own before any record names it, and is written once
 * (checked absent): processes sharing the KV agree on each one. The day is that of the message's
 * id, so the records naming a day's dictionaries all have ids of that day: once the day is past
 * retention, {@link sweepDictionaries} deletes those that no remaining record of the day names (a
 * dictionary is a message's text, and must not outlive the messages that need it). A sender gets
 * at most {@link MAX_PER_SENDER} a day, so one that makes up message types cannot grow them without
 * bound. Until a sender's dictionary for a kind is committed, its messages go without one.
 * @module
 */

import { keyPart, keys } from "./keys.ts";
import { idFloor, idTime } from "./ids.ts";
import { withKvRetry } from "./kv.ts";
import { MAX_DICTIONARY_BYTES } from "./raw_deflate.ts";
import type { MessageRecord } from "./types.ts";

/** Dictionaries one sender may have in a day (its kinds of message beyond this go without). */
export const MAX_PER_SENDER = 32;
/** A dictionary serves the messages of one day (by their ids' time, UTC). */
export const DICTIONARY_DAY_MS = 86_400_000;
/** Cached dictionaries beyond this are dropped (and read again from KV when needed). */
const MAX_CACHED = 4096;
/** After a failed lookup or creation, the next try waits this long. */
const RETRY_MS = 30_000;
/** Longest kind of message named in a dictionary's id (a longer one gets no dictionary). */
const MAX_KIND_CHARS = 100;

/** A dictionary: its id (as records name it) and its bytes. */
export interface Dictionary {
  id: string;
  bytes: Uint8Array;
}

/** Where payload readers get a record's dictionary. */
export interface DictionarySource {
  /** The bytes of dictionary `id`; rejects, naming it, when KV has no such row. */
  bytes(id: string): Promise<Uint8Array>;
}

/** The count of a sender's dictionaries, kept in KV beside them. */
interface SenderCount {
  n: number;
}

/**
 * The dictionaries of one store. `forWrite` answers at once (a dictionary, or none yet) and gets
 * one ready in the background; `bytes` reads one for a record.
 *
 * @example
 * ```ts
 * const dictionaries = new PayloadDictionaries(kv);
 * const dict = dictionaries.forWrite("integration:lab", "ORU^R01", messageId, payload);
 * const packed = dict && deflateWithDictionary(payload, dict.bytes);
 * ```
 */
export class PayloadDictionaries implements DictionarySource {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  /** Dictionaries known to be in KV, by id. */
  readonly #ready = new Map<string, Uint8Array>();
  /** Lookups or creations under way, by id. */
  readonly #pending = new Map<string, Promise<void>>();
  /** Ids whose last try failed: not tried again before this time. */
  readonly #retryAt = new Map<string, number>();
  /** Senders (by day) known to have their {@link MAX_PER_SENDER} dictionaries. */
  readonly #full = new Set<string>();

  /** Dictionaries in `kv`. */
  constructor(kv: Deno.Kv, options: { now?: () => number } = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The dictionary for `sender`'s messages of `kind` on the day of `messageId`, when it is in KV.
   * When it is not, one is looked up or made from `sample` (this message) in the background, for
   * the next ones.
   */
  forWrite(
    sender: string,
    kind: string,
    messageId: string,
    sample: Uint8Array,
  ): Dictionary | undefined {
    const day = Math.floor(idTime(messageId) / DICTIONARY_DAY_MS);
    if (!Number.isSafeInteger(day) || day < 0 || kind.length > MAX_KIND_CHARS) return undefined;
    // An id of an earlier day (not made just now): its day's dictionaries may be swept already.
    if (day < Math.floor(this.#now() / DICTIONARY_DAY_MS) - 1) return undefined;
    const full = `${day}\u0000${sender}`;
    if (this.#full.has(full)) return undefined;
    const id = dictionaryId(day, sender, kind);
    const bytes = this.#ready.get(id);
    if (bytes) return { id, bytes };
    if (this.#pending.has(id) || (this.#retryAt.get(id) ?? 0) > this.#now()) return undefined;
    // Never rejects: a failure only means messages go without a dictionary a while longer.
    const obtaining = this.#obtain(id, day, sender, full, sample.slice(0, MAX_DICTIONARY_BYTES))
      .finally(() => this.#pending.delete(id));
    this.#pending.set(id, obtaining);
    return undefined;
  }

  /** Resolves once no dictionary is being looked up or written (tests; a store closing). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending.values());
  }

  /** See {@link DictionarySource.bytes}. */
  async bytes(id: string): Promise<Uint8Array> {
    const known = this.#ready.get(id);
    if (known) return known;
    const bytes = await readDictionary(this.#kv, id);
    this.#remember(id, bytes);
    return bytes;
  }

  #remember(id: string, bytes: Uint8Array): void {
    if (this.#ready.size >= MAX_CACHED) this.#ready.clear();
    this.#ready.set(id, bytes);
  }

  /** Reads dictionary `id` from KV, or writes it from `sample` if there is none yet. */
  async #obtain(
    id: string,
    day: number,
    sender: string,
    full: string,
    sample: Uint8Array,
  ): Promise<void> {
    try {
      // A check fails when another process wrote this dictionary, or another of the sender's,
      // meanwhile: read again (a few times; then the next message of the kind tries).
      for (let tries = 0; tries < 3; tries++) {
        const [row, count] = await this.#kv.getMany<[Uint8Array, SenderCount]>([
          dictionaryKey(id),
          keys.dictionaryCount(day, sender),
        ]);
        if (row.value instanceof Uint8Array) {
          this.#remember(id, row.value);
          return;
        }
        const n = count.value?.n ?? 0;
        if (n >= MAX_PER_SENDER) {
          this.#full.add(full);
          return;
        }
        const result = await this.#kv.atomic()
          .check({ key: dictionaryKey(id), versionstamp: null })
          .check(count)
          .set(dictionaryKey(id), sample)
          .set(keys.dictionaryCount(day, sender), { n: n + 1 } satisfies SenderCount)
          .commit();
        if (result.ok) {
          this.#remember(id, sample);
          return;
        }
      }
      this.#retryAt.set(id, this.#now() + 1000);
    } catch {
      // KV failing (a full disk, a remote KV away): the store's health reports it; try later.
      this.#retryAt.set(id, this.#now() + RETRY_MS);
    }
  }
}

/** The id of `sender`'s dictionary for messages of `kind` on `day` (days since the epoch). */
export function dictionaryId(day: number, sender: string, kind: string): string {
  return `${day}\u0000${sender}\u0000${kind}`;
}

/** The KV key of dictionary `id`: under its day, so a sweep finds a day's together. */
export function dictionaryKey(id: string): Deno.KvKey {
  const cut = id.indexOf("\u0000");
  const day = cut > 0 ? Number(id.slice(0, cut)) : NaN;
  // An id not made by dictionaryId names no row (reading it says the dictionary is missing).
  return Number.isSafeInteger(day) ? [...keys.dictionaryPrefix, day, keyPart(id.slice(cut + 1))] : [
    ...keys.dictionaryPrefix,
    -1,
    keyPart(id),
  ];
}

/** Dictionary `id` from KV; rejects, naming it, when there is no such row. */
export async function readDictionary(kv: Deno.Kv, id: string): Promise<Uint8Array> {
  const row = await kv.get<Uint8Array>(dictionaryKey(id));
  if (row.value instanceof Uint8Array) return row.value;
  throw new Error(`compression dictionary ${JSON.stringify(id)} is missing from KV`);
}

/**
 * Deletes the dictionaries of days wholly before `cutoff` (the retention's) that no remaining
 * message of their day names, and those days' per-sender counts. Run after the messages' own
 * sweep: what is left of such a day is only what is kept (a message still PENDING somewhere).
 * Never a day after the one before yesterday (by `now`), whatever the retention: a message with an
 * id of yesterday may still be getting its dictionary. `between` runs after each commit. Returns
 * the dictionaries removed and the commits made.
 */
export async function sweepDictionaries(
  kv: Deno.Kv,
  cutoff: number,
  options: { now: number; signal?: AbortSignal; between?: () => Promise<void> },
): Promise<{ removed: number; commits: number }> {
  const out = { removed: 0, commits: 0 };
  const commit = async (op: Deno.AtomicOperation) => {
    await withKvRetry(() => op.commit());
    out.commits++;
    await options.between?.();
  };
  const endDay = Math.min(
    Math.floor(cutoff / DICTIONARY_DAY_MS),
    Math.floor(options.now / DICTIONARY_DAY_MS) - 1,
  );
  const end: Deno.KvKey = [...keys.dictionaryPrefix, endDay];
  let day: number | undefined;
  let named = new Set<string>();
  for await (const e of kv.list<Uint8Array>({ start: keys.dictionaryPrefix, end })) {
    if (options.signal?.aborted) break;
    const d = e.key[1];
    if (typeof d !== "number") continue;
    if (d !== day) {
      day = d;
      named = await namedOn(kv, d);
      for await (const c of kv.list({ prefix: keys.dictionaryCountPrefix(d) })) {
        await commit(kv.atomic().delete(c.key));
      }
    }
    if (named.has(JSON.stringify(e.key))) continue;
    // Checked: deleted only as it was read.
    await commit(kv.atomic().check(e).delete(e.key));
    out.removed++;
  }
  return out;
}

/** The dictionaries (by key) named by the messages with ids of `day`. */
async function namedOn(kv: Deno.Kv, day: number): Promise<Set<string>> {
  const named = new Set<string>();
  const start = keys.message(idFloor(day * DICTIONARY_DAY_MS));
  const end = keys.message(idFloor((day + 1) * DICTIONARY_DAY_MS));
  for await (const e of kv.list<MessageRecord>({ start, end })) {
    if (e.value.dictionary) named.add(JSON.stringify(dictionaryKey(e.value.dictionary)));
  }
  return named;
}
