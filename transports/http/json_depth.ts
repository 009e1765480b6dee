/**
 * A nesting-depth check of JSON text on its raw UTF-8 bytes, run before `JSON.parse`: a 40 MB body
 * of `[[[[…` is a byte per level for the client and costs the parser (and everything that walks
 * the result) far more. The scanner is fed chunk by chunk as the body arrives, so it never holds
 * the event loop for long, and keeps no more than the current key per open level. Strings (with
 * their escapes) are skipped, so brackets inside them do not count. Malformed JSON is not judged
 * here: the parser reports it.
 *
 * The same pass tells whether an object may name a key twice
 * ({@link JsonDepthScanner.mayRepeatKeys}): each key's bytes are hashed and compared with the
 * hashes of the keys before it in its object (at most 64 hashes per open object are kept). A hash
 * seen twice, a key with an escape (`"I\u0044"` is `"ID"`), or an object of more keys than are
 * tracked only raises the suspicion; the parser's full check (json_parse.ts) then says.
 * @module
 */

/** The depth allowed when the config says nothing (`limits.maxJsonDepth`). */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** The outcome of a depth check. */
export type DepthCheck = { ok: true } | {
  ok: false;
  /**
   * Where the first container past the limit starts, as a JSON path (`$.Patient.Names[0]`),
   * shortened in the middle when long.
   */
  path: string;
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

/** Keys of one object whose hashes are compared one by one; past them, the full check decides. */
const MAX_TRACKED_KEYS = 64;
/** FNV-1a (32-bit) over a key's bytes. */
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** Path segments shown at the start and at the end of a long path. */
const HEAD_SEGMENTS = 6;
const TAIL_SEGMENTS = 3;
/** Longest property name shown in a path, in characters (bytes kept: 4 per character). */
const MAX_KEY_CHARS = 40;
const MAX_KEY_BYTES = MAX_KEY_CHARS * 4;

const utf8 = new TextDecoder();
const NO_KEY = new Uint8Array(0);

/** Checks the nesting depth of JSON fed in chunks; see the module doc. */
export class JsonDepthScanner {
  readonly #max: number;
  // Per open container: array (true) or object, the current index, the current key's bytes.
  readonly #isArray: boolean[] = [];
  readonly #index: number[] = [];
  // The current key's bytes: keyChunk[level] from keyFrom to keyTo (NO_KEY when none yet).
  readonly #keyChunk: Uint8Array[] = [];
  readonly #keyFrom: number[] = [];
  readonly #keyTo: number[] = [];
  // The hashes of the keys seen so far in each open object: a stack up to hashTop, where an
  // object's keys start at hashFrom[level] (a nested object's are dropped when it closes).
  readonly #hashes: number[] = [];
  readonly #hashFrom: number[] = [];
  #hashTop = 0;
  /** The hash so far of a key string that is open at a chunk's end. */
  #keyHash = FNV_OFFSET;
  #mayRepeat = false;
  #depth = 0;
  #inString = false;
  #escaped = false;
  #expectKey = false;
  /** A key string is open (it started in an earlier chunk when a chunk begins inside it). */
  #keyOpen = false;
  /** The bytes of the open key that earlier chunks held. */
  #keyHead: Uint8Array = NO_KEY;
  #result: DepthCheck = { ok: true };

  /** A scanner allowing `maxDepth` nested containers (`[]` is depth 1). */
  constructor(maxDepth: number) {
    this.#max = maxDepth;
  }

  /** The verdict so far (final once the whole text was fed). */
  get result(): DepthCheck {
    return this.#result;
  }

  /**
   * Whether some object of valid JSON fed so far may name a key twice (see the module doc);
   * false means that none does. Meaningless for malformed JSON, and once the depth is exceeded.
   */
  get mayRepeatKeys(): boolean {
    return this.#mayRepeat;
  }

  /** Scans the next bytes; once the limit is crossed, further bytes are ignored. */
  feed(bytes: Uint8Array): DepthCheck {
    if (!this.#result.ok) return this.#result;
    // The state lives in locals while the loop runs: private fields read per byte cost ~10×.
    const max = this.#max;
    const isArray = this.#isArray;
    const index = this.#index;
    const keyChunk = this.#keyChunk;
    const hashes = this.#hashes;
    const hashFrom = this.#hashFrom;
    let hashTop = this.#hashTop;
    let mayRepeat = this.#mayRepeat;
    let keyHash = this.#keyHash;
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    let expectKey = this.#expectKey;
    // Where the key being read starts in this chunk (-1: no key string open here).
    let keyStart = this.#keyOpen ? 0 : -1;
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const b = bytes[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) {
          inString = false;
          if (keyStart >= 0) {
            this.#endKey(depth - 1, bytes, keyStart, i);
            if (!mayRepeat) {
              // The key's hash, then a look for it among its object's earlier keys.
              let h = keyHash;
              for (let k = keyStart; k < i; k++) {
                const c = bytes[k]!;
                if (c === BACKSLASH) mayRepeat = true;
                h = Math.imul(h ^ c, FNV_PRIME);
              }
              const from = hashFrom[depth - 1]!;
              if (hashTop - from >= MAX_TRACKED_KEYS) mayRepeat = true;
              for (let k = from; k < hashTop && !mayRepeat; k++) mayRepeat = hashes[k] === h;
              hashes[hashTop++] = h;
            }
            keyStart = -1;
          }
        }
        continue;
      }
      if (b === QUOTE) {
        inString = true;
        if (expectKey) {
          keyStart = i + 1;
          keyHash = FNV_OFFSET;
          this.#keyOpen = true;
          this.#keyHead = NO_KEY;
          expectKey = false;
        }
      } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        if (depth >= max) {
          this.#depth = depth;
          this.#result = { ok: false, path: this.#path() };
          return this.#result;
        }
        const d = depth++;
        isArray[d] = b === OPEN_ARRAY;
        index[d] = 0;
        keyChunk[d] = NO_KEY;
        hashFrom[d] = hashTop;
        expectKey = b === OPEN_OBJECT;
      } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
        if (depth > 0) {
          depth--;
          // A closed object's keys are no longer compared with anything.
          if (!isArray[depth]) hashTop = hashFrom[depth]!;
        }
        expectKey = false;
      } else if (b === COMMA && depth > 0) {
        const d = depth - 1;
        if (isArray[d]) index[d] = index[d]! + 1;
        else expectKey = true;
      }
    }
    // A key still open at the chunk's end: keep what it has so far, and its hash.
    if (keyStart >= 0) {
      this.#keyHead = this.#keyBytes(this.#keyHead, bytes, keyStart, n);
      for (let k = keyStart; k < n; k++) {
        const c = bytes[k]!;
        if (c === BACKSLASH) mayRepeat = true;
        keyHash = Math.imul(keyHash ^ c, FNV_PRIME);
      }
    }
    // Keys of the levels still open that lie in this chunk are copied: the caller may reuse it.
    const keyFrom = this.#keyFrom, keyTo = this.#keyTo;
    for (let d = 0; d < depth; d++) {
      if (keyChunk[d] !== bytes) continue;
      keyChunk[d] = this.#keyBytes(NO_KEY, bytes, keyFrom[d]!, keyTo[d]!);
      keyFrom[d] = 0;
      keyTo[d] = keyChunk[d]!.length;
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    this.#expectKey = expectKey;
    this.#mayRepeat = mayRepeat;
    this.#keyHash = keyHash;
    this.#hashTop = hashTop;
    return this.#result;
  }

  /**
   * Records the key of level `level`, which ends at `end` of `bytes`: where it lies in the chunk
   * (copied at the end of `feed` only if its level is still open then), or a copy when it began
   * in an earlier chunk.
   */
  #endKey(level: number, bytes: Uint8Array, start: number, end: number): void {
    if (this.#keyHead === NO_KEY || start > 0) {
      this.#keyChunk[level] = bytes;
      this.#keyFrom[level] = start;
      this.#keyTo[level] = end;
    } else {
      const key = this.#keyBytes(this.#keyHead, bytes, start, end);
      this.#keyChunk[level] = key;
      this.#keyFrom[level] = 0;
      this.#keyTo[level] = key.length;
    }
    this.#keyOpen = false;
    this.#keyHead = NO_KEY;
  }

  /** `head` followed by `bytes[start..end)`, cut at {@link MAX_KEY_BYTES}; a copy. */
  #keyBytes(head: Uint8Array, bytes: Uint8Array, start: number, end: number): Uint8Array {
    const take = Math.max(0, Math.min(end - start, MAX_KEY_BYTES - head.length));
    const out = new Uint8Array(head.length + take);
    out.set(head);
    out.set(bytes.subarray(start, start + take), head.length);
    return out;
  }

  /** The JSON path of the value each open container is at. */
  #path(): string {
    const segment = (level: number): string => {
      if (this.#isArray[level]) return `[${this.#index[level]}]`;
      const from = this.#keyFrom[level]!;
      const to = Math.min(this.#keyTo[level]!, from + MAX_KEY_BYTES);
      let key = utf8.decode(this.#keyChunk[level]!.subarray(from, to));
      if (key.length > MAX_KEY_CHARS) key = `${key.slice(0, MAX_KEY_CHARS)}…`;
      return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    };
    const depth = this.#depth;
    const range = (from: number, count: number) =>
      Array.from({ length: count }, (_, k) => segment(from + k)).join("");
    if (depth <= HEAD_SEGMENTS + TAIL_SEGMENTS + 1) return `$${range(0, depth)}`;
    const hidden = depth - HEAD_SEGMENTS - TAIL_SEGMENTS;
    return `$${range(0, HEAD_SEGMENTS)}…(${hidden} more)…${
      range(depth - TAIL_SEGMENTS, TAIL_SEGMENTS)
    }`;
  }
}

/** Checks all of `bytes` at once (see {@link JsonDepthScanner}). */
export function checkJsonDepth(bytes: Uint8Array, maxDepth: number): DepthCheck {
  return new JsonDepthScanner(maxDepth).feed(bytes);
}
