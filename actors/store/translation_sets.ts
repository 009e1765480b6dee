/**
 * Imported translation sets in KV: every `POST /admin/translation-sets/:name` is a new version
 * (1, 2, …; version 0 is the config's own entries), kept so that a SEND log's version can still be
 * read. A table may be larger than one KV value (64 KiB): its entries are written as chunks under
 * a data id of their own first, then the version record and the set's head commit together,
 * checked against the head read, so two concurrent imports get two distinct versions.
 *
 * Keys: `["tset", name, "head"]` (the latest version), `["tset", name, "v", version]` (each
 * version's record), `["tset", name, "data", dataId, i]` (its entries as JSON, in pieces).
 * @module
 */

import { keys } from "./keys.ts";
import { withKvRetry } from "./kv.ts";

/** One imported version, as stored (its entries are in chunks). */
export interface TranslationSetVersion {
  name: string;
  /** 1 for the first import. */
  version: number;
  /** Number of codes. */
  entries: number;
  /** What a missing code becomes, when the import said so (else the config's, else `pass`). */
  onMissing?: "pass" | "default" | "fail";
  default?: string;
  /** Who imported it (`admin` unless told). */
  by: string;
  importedAt: number;
  /** SHA-256 (hex) of the entries as stored. */
  sha256: string;
  /** Where its entries are. */
  dataId: string;
  chunks: number;
}

/** A version with its table. */
export interface StoredTranslationSet extends TranslationSetVersion {
  table: Record<string, string>;
}

/** Bytes per chunk: under KV's 64 KiB value limit. */
const CHUNK_BYTES = 60_000;
/** Chunks per atomic: under KV's 800 KiB per commit. */
const CHUNKS_PER_COMMIT = 10;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const K = {
  head: keys.translationSetHead,
  version: keys.translationSetVersion,
  versions: keys.translationSetVersions,
  chunk: keys.translationSetChunk,
  all: keys.translationSetPrefix,
};

/** Reads and writes imported translation sets; see the module doc. */
export class TranslationSetStore {
  readonly #kv: Deno.Kv;

  /** Sets kept in `kv` (the store's KV). */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /**
   * Stores a new version of `name` and returns its record. The entries are written before the
   * version that references them, so a reader never sees a version without its table.
   */
  async put(
    name: string,
    table: Record<string, string>,
    meta: {
      by: string;
      at: number;
      onMissing?: TranslationSetVersion["onMissing"];
      default?: string;
    },
  ): Promise<TranslationSetVersion> {
    const bytes = encoder.encode(JSON.stringify(table));
    const dataId = crypto.randomUUID();
    const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
    for (let first = 0; first < chunks; first += CHUNKS_PER_COMMIT) {
      await withKvRetry(async () => {
        const op = this.#kv.atomic();
        for (let i = first; i < Math.min(chunks, first + CHUNKS_PER_COMMIT); i++) {
          op.set(K.chunk(name, dataId, i), bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
        }
        const r = await op.commit();
        if (!r.ok) throw new Error("translation set: a chunk write was refused");
      });
    }
    const sha256 = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
    // Bounded: a concurrent import takes the next version; more than 20 in a row is a fault.
    for (let attempt = 0; attempt < 20; attempt++) {
      const head = await this.#kv.get<TranslationSetVersion>(K.head(name));
      const record: TranslationSetVersion = {
        name,
        version: (head.value?.version ?? 0) + 1,
        entries: Object.keys(table).length,
        ...(meta.onMissing !== undefined ? { onMissing: meta.onMissing } : {}),
        ...(meta.default !== undefined ? { default: meta.default } : {}),
        by: meta.by,
        importedAt: meta.at,
        sha256,
        dataId,
        chunks,
      };
      const r = await withKvRetry(() =>
        this.#kv.atomic()
          .check({ key: K.head(name), versionstamp: head.versionstamp })
          .set(K.head(name), record)
          .set(K.version(name, record.version), record)
          .commit()
      );
      if (r.ok) return record;
    }
    throw new Error(`translation set ${name}: could not commit a new version (too many at once)`);
  }

  /** The latest version of every imported set (without tables). */
  async heads(): Promise<TranslationSetVersion[]> {
    const out: TranslationSetVersion[] = [];
    for await (const e of this.#kv.list<TranslationSetVersion>({ prefix: K.all })) {
      if (e.key.length === 3 && e.key[2] === "head") out.push(e.value);
    }
    return out;
  }

  /** Every version of `name`, oldest first (without tables). */
  async versions(name: string): Promise<TranslationSetVersion[]> {
    const out: TranslationSetVersion[] = [];
    for await (const e of this.#kv.list<TranslationSetVersion>({ prefix: K.versions(name) })) {
      out.push(e.value);
    }
    return out;
  }

  /** A version with its table (the latest when `version` is not given), or undefined. */
  async get(name: string, version?: number): Promise<StoredTranslationSet | undefined> {
    const record = (await this.#kv.get<TranslationSetVersion>(
      version === undefined ? K.head(name) : K.version(name, version),
    )).value;
    if (!record) return undefined;
    return { ...record, table: await this.#table(record) };
  }

  /** Reads a version's entries back from its chunks. */
  async #table(record: TranslationSetVersion): Promise<Record<string, string>> {
    const parts: Uint8Array[] = [];
    for (let first = 0; first < record.chunks; first += CHUNKS_PER_COMMIT) {
      const ks = [];
      for (let i = first; i < Math.min(record.chunks, first + CHUNKS_PER_COMMIT); i++) {
        ks.push(K.chunk(record.name, record.dataId, i));
      }
      for (const e of await this.#kv.getMany<Uint8Array[]>(ks)) {
        if (!(e.value instanceof Uint8Array)) {
          throw new Error(`translation set ${record.name} v${record.version}: a chunk is missing`);
        }
        parts.push(e.value);
      }
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    return JSON.parse(decoder.decode(all)) as Record<string, string>;
  }
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
