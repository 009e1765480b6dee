/**
 * A nesting-depth check of JSON text on its raw UTF-8 bytes, run before `JSON.parse`: a 40 MB body
 * of `[[[[…` is a byte per level for the client and costs the parser (and everything that walks
 * the result) far more. The scanner is fed chunk by chunk as the body arrives, so it never holds
 * the event loop for long, and keeps no more than the current key per open level. Strings (with
 * their escapes) are skipped, so brackets inside them do not count. Malformed JSON is not judged
 * here: the parser reports it.
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
  readonly #key: Uint8Array[] = [];
  #depth = 0;
  #inString = false;
  #escaped = false;
  #expectKey = false;
  /** The key being read, while a string that is a key is open. */
  #keyBytes: number[] | undefined;
  #result: DepthCheck = { ok: true };

  /** A scanner allowing `maxDepth` nested containers (`[]` is depth 1). */
  constructor(maxDepth: number) {
    this.#max = maxDepth;
  }

  /** The verdict so far (final once the whole text was fed). */
  get result(): DepthCheck {
    return this.#result;
  }

  /** Scans the next bytes; once the limit is crossed, further bytes are ignored. */
  feed(bytes: Uint8Array): DepthCheck {
    if (!this.#result.ok) return this.#result;
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const b = bytes[i]!;
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (b === BACKSLASH) this.#escaped = true;
        else if (b === QUOTE) {
          this.#inString = false;
          if (this.#keyBytes) {
            this.#key[this.#depth - 1] = Uint8Array.from(this.#keyBytes);
            this.#keyBytes = undefined;
          }
          continue;
        }
        if (this.#keyBytes && this.#keyBytes.length < MAX_KEY_BYTES) this.#keyBytes.push(b);
        continue;
      }
      if (b === QUOTE) {
        this.#inString = true;
        if (this.#expectKey) {
          this.#keyBytes = [];
          this.#expectKey = false;
        }
      } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        if (this.#depth >= this.#max) {
          this.#result = { ok: false, path: this.#path() };
          return this.#result;
        }
        const d = this.#depth++;
        this.#isArray[d] = b === OPEN_ARRAY;
        this.#index[d] = 0;
        this.#key[d] = NO_KEY;
        this.#expectKey = b === OPEN_OBJECT;
      } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
        if (this.#depth > 0) this.#depth--;
        this.#expectKey = false;
      } else if (b === COMMA && this.#depth > 0) {
        const d = this.#depth - 1;
        if (this.#isArray[d]) this.#index[d] = this.#index[d]! + 1;
        else this.#expectKey = true;
      }
    }
    return this.#result;
  }

  /** The JSON path of the value each open container is at. */
  #path(): string {
    const segment = (level: number): string => {
      if (this.#isArray[level]) return `[${this.#index[level]}]`;
      let key = utf8.decode(this.#key[level]!);
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
