/**
 * The engine's Prometheus metrics, labelled by integration, destination and environment: messages
 * received, routed, filtered, delivered, failed; delivery attempts and retries; end-to-end
 * (receive → delivered) and delivery (queued → delivered) latency; ACK codes; accept (KV commit)
 * latency and each group commit's time in KV; SFTP files. They are counted where the store is
 * called — the store's own methods are wrapped on the instance, so its code (and its hot path) is
 * untouched and a failed call counts nothing (a commit's time is told by the store itself).
 * @module
 */

import type { Config } from "../config/mod.ts";
import { type Counter, type Histogram, MetricsRegistry } from "../runtime/metrics.ts";
import { idTime } from "../store/ids.ts";
import type { Store } from "../store/store.ts";
import type { Attempt } from "../store/types.ts";

const ACK_CODE = /\b(AA|AE|AR|CA|CE|CR)\b/;

/** See the module doc. */
export class EngineMetrics {
  /** The registry `/metrics` renders. */
  readonly registry: MetricsRegistry = new MetricsRegistry();
  readonly received: Counter;
  readonly routed: Counter;
  readonly filtered: Counter;
  readonly delivered: Counter;
  readonly failed: Counter;
  readonly attempts: Counter;
  readonly retries: Counter;
  readonly acks: Counter;
  readonly sftpFiles: Counter;
  readonly endToEnd: Histogram;
  readonly delivery: Histogram;
  readonly accept: Histogram;
  readonly commit: Histogram;
  #config: () => Config;
  /** The config the cached label objects were made from. */
  #labelsOf: Config | undefined;
  #labelCache = new Map<string, Readonly<Record<string, string>>>();
  #withCache = new WeakMap<object, Map<string, Readonly<Record<string, string>>>>();

  /** Metrics whose environment labels come from the running config. */
  constructor(config: () => Config) {
    this.#config = config;
    const r = this.registry;
    this.received = r.counter("engine_messages_received_total", "Messages stored at intake.");
    this.routed = r.counter(
      "engine_messages_routed_total",
      "Deliveries queued for a destination by routing.",
    );
    this.filtered = r.counter(
      "engine_messages_filtered_total",
      "Messages no subscription wanted.",
    );
    this.delivered = r.counter("engine_messages_delivered_total", "Deliveries that succeeded.");
    this.failed = r.counter(
      "engine_messages_failed_total",
      "Deliveries dead-lettered (failed for good or skipped).",
    );
    this.attempts = r.counter(
      "engine_delivery_attempts_total",
      "Delivery attempts by outcome (success, failure).",
    );
    this.retries = r.counter(
      "engine_delivery_retries_total",
      "Failed attempts after which the delivery stays queued for a retry.",
    );
    this.acks = r.counter("engine_ack_codes_total", "HL7 ACK codes received from destinations.");
    this.sftpFiles = r.counter("engine_sftp_files_total", "Files taken in over SFTP.");
    this.endToEnd = r.histogram(
      "engine_end_to_end_latency_seconds",
      "From receipt of a message to its delivery.",
    );
    this.delivery = r.histogram(
      "engine_delivery_latency_seconds",
      "From queueing a delivery to its success.",
    );
    this.accept = r.histogram(
      "engine_kv_accept_commit_seconds",
      "Accepting a message: from the call to its durable (group) commit in KV.",
    );
    this.commit = r.histogram(
      "engine_kv_commit_seconds",
      "One group commit in KV: from sending its atomic operation to the answer.",
    );
  }

  /** Labels of a destination (the same frozen object for the same config and id). */
  destination(id: string | undefined): Readonly<Record<string, string>> {
    return this.#labels(`d\u0000${id ?? ""}`, (c) => {
      const d = id === undefined ? undefined : c.destinations.find((x) => x.id === id);
      return { destination: id ?? "unknown", environment: d?.environment ?? "unknown" };
    });
  }

  /** Labels of an integration or an API source (likewise the same object each time). */
  origin(kind: string, id: string): Readonly<Record<string, string>> {
    return this.#labels(`${kind}\u0000${id}`, (c): Record<string, string> => {
      const env = kind === "source"
        ? c.sources.find((s) => s.id === id)?.environment
        : c.integrations.find((i) => i.id === id)?.environment;
      return kind === "source"
        ? { source: id, environment: env ?? "unknown" }
        : { integration: id, environment: env ?? "unknown" };
    });
  }

  /**
   * Label objects are made once per config and frozen, so the registry builds each series' key
   * once instead of for every message. A reload (a new config object) starts afresh; ids that
   * come and go only ever number as many as the configs name, plus "unknown".
   */
  #labels(
    key: string,
    make: (config: Config) => Record<string, string>,
  ): Readonly<Record<string, string>> {
    const config = this.#config();
    if (config !== this.#labelsOf) {
      this.#labelsOf = config;
      this.#labelCache.clear();
      this.#withCache = new WeakMap();
    }
    let labels = this.#labelCache.get(key);
    if (!labels) {
      labels = Object.freeze(make(config));
      this.#labelCache.set(key, labels);
    }
    return labels;
  }

  /** `labels` with one more label, as one frozen object per combination (see {@link #labels}). */
  #with(
    labels: Readonly<Record<string, string>>,
    name: string,
    value: string,
  ): Readonly<Record<string, string>> {
    let byValue = this.#withCache.get(labels);
    if (!byValue) this.#withCache.set(labels, byValue = new Map());
    const key = `${name}\u0000${value}`;
    let out = byValue.get(key);
    if (!out) byValue.set(key, out = Object.freeze({ ...labels, [name]: value }));
    return out;
  }

  /** Wraps `store`'s writing methods on the instance to count what they did. */
  instrument(store: Store, now: () => number): void {
    store.observeCommits((seconds) => this.commit.observe({}, seconds));
    const accept = store.accept.bind(store);
    store.accept = async (request) => {
      const started = performance.now();
      const result = await accept(request);
      if (result.status !== "stored") return result;
      this.accept.observe({}, (performance.now() - started) / 1000);
      const labels = this.origin(request.origin.kind, request.origin.id);
      this.received.inc(labels);
      if (request.fileName !== undefined && request.origin.kind === "integration") {
        this.sftpFiles.inc(labels);
      }
      if (request.deliveries) {
        if (request.deliveries.length === 0) this.filtered.inc(labels);
        for (const d of request.deliveries) this.routed.inc(this.destination(d.destinationId));
      }
      return result;
    };
    // `route` is built on `routeEntries`, which it calls through the instance: one wrap counts both.
    const routeEntries = store.routeEntries.bind(store);
    store.routeEntries = async (head, deliveries, receive, options) => {
      const entries = await routeEntries(head, deliveries, receive, options);
      if (entries) {
        if (deliveries.length === 0 && receive.status === "FILTERED") {
          const log = options?.log;
          this.filtered.inc(
            log?.integrationId
              ? this.origin("integration", log.integrationId)
              : log?.sourceId
              ? this.origin("source", log.sourceId)
              : {},
          );
        }
        for (const d of deliveries) this.routed.inc(this.destination(d.destinationId));
      }
      return entries;
    };
    const complete = store.complete.bind(store);
    store.complete = async (head, attempt, options) => {
      const ok = await complete(head, attempt, options);
      if (ok) {
        const labels = this.destination(head.entry.destinationId ?? options?.log?.destinationId);
        const t = now();
        this.delivered.inc(labels);
        this.delivery.observe(labels, Math.max(0, t - head.entry.enqueuedAt) / 1000);
        const received = idTime(head.entry.originalId ?? head.entry.messageId);
        if (Number.isFinite(received)) {
          this.endToEnd.observe(labels, Math.max(0, t - received) / 1000);
        }
        this.#attempted(labels, "success", attempt);
      }
      return ok;
    };
    const deadLetter = store.deadLetter.bind(store);
    store.deadLetter = async (head, by, reason, attempt) => {
      const ok = await deadLetter(head, by, reason, attempt);
      if (ok) {
        const labels = this.destination(head.entry.destinationId);
        this.failed.inc(labels);
        if (attempt) this.#attempted(labels, "failure", attempt);
      }
      return ok;
    };
    const recordAttempt = store.recordAttempt.bind(store);
    store.recordAttempt = async (logId, attempt) => {
      await recordAttempt(logId, attempt);
      // A failure path: reading the log back for its destination costs nothing that matters.
      const log = await store.getLog(logId).catch(() => null);
      const labels = this.destination(log?.destinationId);
      this.#attempted(labels, attempt.outcome === "SUCCEEDED" ? "success" : "failure", attempt);
      if (attempt.outcome === "FAILED") this.retries.inc(labels);
    };
  }

  /** Counts one delivery attempt by outcome, and the ACK code its reason names if any. */
  #attempted(
    labels: Readonly<Record<string, string>>,
    outcome: "success" | "failure",
    attempt: Omit<Attempt, "n">,
  ): void {
    this.attempts.inc(this.#with(labels, "outcome", outcome));
    const code = attempt.reason ? ACK_CODE.exec(attempt.reason)?.[1] : undefined;
    if (code) this.acks.inc(this.#with(labels, "code", code));
  }
}
