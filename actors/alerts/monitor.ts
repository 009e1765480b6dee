/**
 * The alert monitor: on a clock, evaluates every rule, and for each subject in alarm fires once
 * when it starts, reminds at the rule's interval while it lasts, and resolves when it ends. The
 * state of each alert and each notification to send are committed to KV together before anything
 * is sent (an outbox), so a restart neither repeats nor forgets one; with several processes on
 * one KV, only the holder of the `alerts` lease evaluates and sends. Failed sends are retried
 * with backoff up to the channel's attempts; every notification is kept in the history.
 * @module
 */

import type { AlertRule, AlertsConfig } from "../config/alerts.ts";
import type { Clock } from "../runtime/clock.ts";
import { errorMessage } from "../runtime/errors.ts";
import type { Logger } from "../runtime/log.ts";
import {
  type AlertNotification,
  type AlertState,
  type AlertStore,
  alertStoreOf,
  type AlertTransition,
} from "../store/alerts.ts";
import type { Leases } from "../store/leases.ts";
import type { Store } from "../store/store.ts";
import { attemptsOf, backoffMs, type ChannelDeps, sendOnce } from "./channels.ts";
import { type AlertInputs, evaluateRule } from "./conditions.ts";

/** The lease (in the actors' lease space) whose holder evaluates and sends. */
export const ALERTS_LEASE = "alerts";

/** What the monitor is built from. */
export interface AlertMonitorOptions {
  store: Store;
  inputs: AlertInputs;
  /** The running `alerts` section (a config reload replaces it). */
  config: () => AlertsConfig;
  deps: ChannelDeps;
  clock: Clock;
  log: Logger;
}

const key = (rule: string, subject: string) => `${rule}\u0000${subject}`;

/** See the module doc. */
export class AlertMonitor {
  readonly #o: AlertMonitorOptions;
  readonly #alerts: AlertStore;
  readonly #leases: Leases;
  readonly #startedAt: number;
  /** When a condition without a `since` of its own was first seen holding. */
  readonly #firstSeen = new Map<string, number>();
  readonly #stop = new AbortController();
  #wake = new AbortController();
  #loop: Promise<void> | undefined;
  #nextDue: number | undefined;
  #waiters: (() => void)[] = [];

  /** A monitor; {@link start} runs it. */
  constructor(options: AlertMonitorOptions) {
    this.#o = options;
    this.#alerts = alertStoreOf(options.store);
    const ttlMs = Math.max(30_000, 3 * options.config().evaluateEverySeconds * 1000);
    this.#leases = options.store.leases({ ttlMs, now: () => options.clock.now() });
    this.#startedAt = options.clock.now();
  }

  /** Starts evaluating: at once, then every `evaluateEverySeconds` (sooner for a retry due). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the loop and gives the lease up. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#leases.release(ALERTS_LEASE).catch(() => {});
  }

  /** Evaluates now (after a rule change) instead of at the next interval. */
  wake(): void {
    this.#wake.abort();
  }

  /** Resolves when the evaluation after this call has finished (tests on a manual clock). */
  nextTick(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The rules in force: those set through the admin API, else the config's. */
  async rules(): Promise<AlertRule[]> {
    return (await this.#alerts.rules<AlertRule>()) ?? this.#o.config().rules;
  }

  /** Replaces the rules (for every process on the KV); `undefined` goes back to the config's. */
  async setRules(rules: AlertRule[] | undefined): Promise<void> {
    await this.#alerts.setRules(rules);
    this.wake();
  }

  /** Alerts firing now. */
  firing(): Promise<AlertState[]> {
    return this.#alerts.states();
  }

  /** Notifications sent, newest first. */
  history(
    options: { limit?: number; before?: string } = {},
  ): Promise<{ notifications: AlertNotification[]; next?: string }> {
    return this.#alerts.history(options);
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.#o.log.warn("alerts.evaluation-failed", { error });
      }
      for (const w of this.#waiters.splice(0)) w();
      if (signal.aborted) break;
      const now = this.#o.clock.now();
      let wait = this.#o.config().evaluateEverySeconds * 1000;
      if (this.#nextDue !== undefined) wait = Math.min(wait, Math.max(0, this.#nextDue - now));
      if (this.#wake.signal.aborted) this.#wake = new AbortController();
      await this.#o.clock.sleep(wait, AbortSignal.any([signal, this.#wake.signal]));
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  /** One evaluation and one pass over the outbox, if this process holds the lease. */
  async tick(): Promise<void> {
    if (!(await this.#leases.acquire(ALERTS_LEASE))) return;
    await this.#evaluate();
    await this.#drain();
  }

  async #evaluate(): Promise<void> {
    const { clock, log, inputs } = this.#o;
    const config = this.#o.config();
    const now = clock.now();
    const rules = await this.rules();
    const states = new Map((await this.#alerts.states()).map((s) => [key(s.rule, s.subject), s]));
    const held = new Set<string>();
    const t: Required<AlertTransition> = { put: [], remove: [], notify: [] };
    const channelsOf = (rule?: AlertRule) => rule?.channels ?? config.channels.map((c) => c.id);
    const notify = (s: AlertState, event: AlertNotification["event"], rule?: AlertRule) => {
      const n: AlertNotification = {
        id: this.#o.store.newId(),
        at: now,
        event,
        rule: s.rule,
        kind: s.kind,
        subject: s.subject,
        summary: s.summary,
        since: s.since,
        node: this.#o.store.node,
        deliveries: channelsOf(rule).map((channel) => ({
          channel,
          status: "pending",
          attempts: 0,
          nextAt: now,
        })),
      };
      t.notify.push(n);
      const fields = { rule: s.rule, subject: s.subject, summary: s.summary, id: n.id };
      if (event === "resolved") log.info("alert.resolved", fields);
      else log.warn(`alert.${event}`, fields);
    };

    for (const rule of rules) {
      let conditions;
      try {
        conditions = await evaluateRule(rule, inputs, now, this.#startedAt);
      } catch (error) {
        // Unknown now: what was firing stays firing, nothing new starts.
        log.warn("alerts.rule-failed", { rule: rule.id, error });
        for (const k of states.keys()) if (k.startsWith(`${rule.id}\u0000`)) held.add(k);
        continue;
      }
      const forMs = "forSeconds" in rule && rule.kind !== "no-traffic" ? rule.forSeconds * 1000 : 0;
      const current = new Set<string>();
      for (const c of conditions) {
        const k = key(rule.id, c.subject);
        current.add(k);
        const state = states.get(k);
        let since = state?.since ?? c.since;
        if (since === undefined) {
          since = this.#firstSeen.get(k) ?? now;
          this.#firstSeen.set(k, since);
        }
        if (!state && now - since < forMs) continue;
        held.add(k);
        if (!state) {
          const s: AlertState = {
            rule: rule.id,
            kind: rule.kind,
            subject: c.subject,
            since,
            lastNotifiedAt: now,
            reminders: 0,
            summary: c.summary,
          };
          t.put.push(s);
          notify(s, "firing", rule);
        } else if (
          rule.remindEverySeconds !== undefined &&
          now - state.lastNotifiedAt >= rule.remindEverySeconds * 1000
        ) {
          const s = {
            ...state,
            lastNotifiedAt: now,
            reminders: state.reminders + 1,
            summary: c.summary,
          };
          t.put.push(s);
          notify(s, "reminder", rule);
        }
      }
      for (const k of this.#firstSeen.keys()) {
        if (k.startsWith(`${rule.id}\u0000`) && !current.has(k)) this.#firstSeen.delete(k);
      }
    }
    const byId = new Map(rules.map((r) => [r.id, r]));
    for (const [k, s] of states) {
      if (held.has(k)) continue;
      const rule = byId.get(s.rule);
      t.remove.push({ rule: s.rule, subject: s.subject });
      notify(
        {
          ...s,
          summary: rule ? `resolved: ${s.summary}` : `rule ${s.rule} removed: ${s.summary}`,
        },
        "resolved",
        rule,
      );
    }
    await this.#alerts.commit(t);
  }

  /** Sends what is due in the outbox; remembers when the next retry is due. */
  async #drain(): Promise<void> {
    const { clock, log } = this.#o;
    const channels = new Map(this.#o.config().channels.map((c) => [c.id, c]));
    let nextDue: number | undefined;
    for (const n of await this.#alerts.outbox()) {
      let changed = false;
      for (const d of n.deliveries) {
        if (d.status !== "pending") continue;
        const now = clock.now();
        if (d.nextAt > now) {
          nextDue = Math.min(nextDue ?? d.nextAt, d.nextAt);
          continue;
        }
        changed = true;
        const channel = channels.get(d.channel);
        if (!channel) {
          d.status = "failed";
          d.lastError = `no channel ${d.channel} in the config`;
          log.error("alert.send-failed", { id: n.id, channel: d.channel, error: d.lastError });
          continue;
        }
        d.attempts++;
        try {
          await sendOnce(channel, n, this.#o.deps);
          d.status = "sent";
          d.sentAt = clock.now();
          delete d.lastError;
          log.info("alert.sent", { id: n.id, rule: n.rule, event: n.event, channel: d.channel });
        } catch (error) {
          d.lastError = errorMessage(error);
          if (d.attempts >= attemptsOf(channel)) {
            d.status = "failed";
            log.error("alert.send-failed", {
              id: n.id,
              channel: d.channel,
              attempts: d.attempts,
              error: d.lastError,
            });
          } else {
            d.nextAt = clock.now() + backoffMs(d.attempts);
            nextDue = Math.min(nextDue ?? d.nextAt, d.nextAt);
            log.warn("alert.send-retry", {
              id: n.id,
              channel: d.channel,
              attempts: d.attempts,
              retryInMs: d.nextAt - clock.now(),
              error: d.lastError,
            });
          }
        }
      }
      if (changed) await this.#alerts.record(n);
    }
    this.#nextDue = nextDue;
  }
}
