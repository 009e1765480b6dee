/**
 * Secrets taken from the environment (or a file) by reference. A {@link Secret} never prints its
 * value: not through `String()`, `JSON.stringify`, template literals or `console.log`.
 * @module
 */

const INSPECT = Symbol.for("Deno.customInspect");
const NODE_INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** A secret value with the name of where it came from; the value is only read with `reveal()`. */
export class Secret {
  readonly #value: string;
  /** Where the value came from, e.g. `env:ENGINE_ADMIN_TOKEN`: safe to log. */
  readonly source: string;

  /** Wraps `value`; `source` says where it came from and is the only thing ever printed. */
  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  /** The secret itself: pass it straight to the place that needs it, never to a log. */
  reveal(): string {
    return this.#value;
  }

  /** Compares with a candidate in time independent of where they differ. */
  equals(candidate: string): boolean {
    return timingSafeEqual(this.#value, candidate);
  }

  /** Always `[secret <source>]`. */
  toString(): string {
    return `[secret ${this.source}]`;
  }

  /** Always `[secret <source>]`, so configs can be dumped safely. */
  toJSON(): string {
    return this.toString();
  }

  /** Deno's console.log/inspect hook. */
  [INSPECT](): string {
    return this.toString();
  }

  /** Node's util.inspect hook (npm libraries log through it). */
  [NODE_INSPECT](): string {
    return this.toString();
  }
}

const encoder = new TextEncoder();

/**
 * Constant-time string comparison: the time taken depends on the lengths only, never on the
 * position of the first difference.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
