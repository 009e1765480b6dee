/**
 * Prometheus metrics kept in memory: labelled counters, gauges and histograms, written out in
 * the text exposition format (version 0.0.4). Names follow Prometheus conventions: base units
 * (`_seconds`, `_bytes`), counters end in `_total`.
 * @module
 */

type Labels = Record<string, string>;

/** Default latency buckets (seconds): 1 ms to 5 minutes. */
export const LATENCY_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
];

/**
 * Keys of label objects already seen. Callers that count every message pass the same (frozen)
 * object each time (see `EngineMetrics`), so the key is built once per series, not per message.
 */
const keyOfFrozen = new WeakMap<Labels, string>();

// Called for every series update, several times per message: a frozen object's key is
// remembered; otherwise one pass, and no replacing unless a value has something to escape.
function labelKey(labels: Labels): string {
  const known = keyOfFrozen.get(labels);
  if (known !== undefined) return known;
  const key = buildLabelKey(labels);
  // Only a frozen object cannot change after its key is remembered.
  if (Object.isFrozen(labels)) keyOfFrozen.set(labels, key);
  return key;
}

function buildLabelKey(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length > 1) keys.sort();
  let out = "";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    out += `${i > 0 ? "," : ""}${k}="${escape(labels[k]!)}"`;
  }
  return out;
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escape(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(out: string[]): void;
}

/** A counter by labels. */
export class Counter {
  readonly #values = new Map<string, number>();
  /** Adds `n` (default 1) to the series of `labels`. */
  inc(labels: Labels = {}, n = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + n);
  }
  /** The value of one series (tests). */
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  /** Text lines. */
  render(name: string, out: string[]): void {
    for (const [k, v] of this.#values) out.push(`${name}${k ? `{${k}}` : ""} ${v}`);
  }
}

/** A histogram by labels, with fixed buckets. */
export class Histogram {
  readonly #buckets: number[];
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  /** Upper bounds of the buckets (ascending); `+Inf` is implied. */
  constructor(buckets: number[] = LATENCY_BUCKETS) {
    this.#buckets = buckets;
  }
  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const k = labelKey(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    // Counted in its own bucket only (the first bound it is within); rendering adds them up.
    const buckets = this.#buckets;
    let i = 0;
    while (i < buckets.length && !(value <= buckets[i]!)) i++;
    if (i < buckets.length) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  /** Text lines: cumulative buckets, `_sum`, `_count`. */
  render(name: string, out: string[]): void {
    for (const [k, s] of this.#series) {
      const sep = k ? "," : "";
      let cumulative = 0;
      this.#buckets.forEach((b, i) => {
        cumulative += s.counts[i]!;
        out.push(`${name}_bucket{${k}${sep}le="${b}"} ${cumulative}`);
      });
      out.push(`${name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      out.push(`${name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
  }
}

/** Every metric of the engine, rendered together. */
export class MetricsRegistry {
  readonly #families: Family[] = [];

  /** A new counter `name` (must end in `_total`). */
  counter(name: string, help: string): Counter {
    const c = new Counter();
    this.#families.push({ name, help, type: "counter", render: (o) => c.render(name, o) });
    return c;
  }

  /** A new histogram `name` (in base units, e.g. `_seconds`). */
  histogram(name: string, help: string, buckets?: number[]): Histogram {
    const h = new Histogram(buckets);
    this.#families.push({ name, help, type: "histogram", render: (o) => h.render(name, o) });
    return h;
  }

  /** A gauge read when rendered: `read` gives each series' labels and value. */
  gauge(name: string, help: string, read: () => { labels?: Labels; value: number }[]): void {
    this.#families.push({
      name,
      help,
      type: "gauge",
      render: (o) => {
        for (const s of read()) {
          const k = labelKey(s.labels ?? {});
          o.push(`${name}${k ? `{${k}}` : ""} ${s.value}`);
        }
      },
    });
  }

  /** The text exposition of every family, with `extra` lines (already formatted) at the end. */
  render(extra: string[] = []): string {
    const out: string[] = [];
    for (const f of this.#families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      f.render(out);
    }
    return [...out, ...extra].join("\n") + "\n";
  }
}
