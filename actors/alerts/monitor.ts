/**
 * The alert monitor: on a clock, evaluates every rule, and for each subject in alarm fires once
 * when it starts, reminds at the rule's interval while it lasts, and resolves when it ends. The
 * state of each alert and each notification to send are committed to KV together before anything
 * is sent (an outbox), so a restart neither repeats nor forgets one; with several processes on
 * one KV, only the holder of the `alerts` lease evaluates and sends. Failed sends are retried
 * with backoff up to the channel's attempts; every notification is kept in the history.
 *
 * What a firing alert says follows what holds: its summary is stored again when it changes (at
 * most once an evaluation, in that evaluation's one commit, notifying no one: the next reminder or
 * the resolved carries it), and a queue alert keeps the worst depth and age seen. A resolved says
 * how long the alert lasted and, for a queue, that worst rather than the last evaluation's numbers.
 *
 * Sending is the {@link Dispatcher}'s: one lane per channel, in the background, each attempt
 * bounded by its channel's `timeoutSeconds`. Evaluation goes on while sends are under way, and a
 * hung channel holds only its own lane. {@link AlertMonitor.stop} aborts the attempts under way
 * (their deliveries stay pending in KV) and returns without waiting for them to finish.
 *
 * Every duration is counted on the monotonic clock: the evaluation interval, a rule's `forSeconds`
 * (from the condition's `since`), the reminder interval (from the last notification), a
 * no-traffic rule's silence (from the last message received, or the monitor's start) and the
 * retries' backoff. The records keep wall timestamps; each is tied to a monotonic reading when
 * this process sets it or first sees it (`anchors.ts`), so a wall-clock step (NTP, `date -s`)
 * after that neither ends nor stretches the duration counted from it.
 * @module
 */

import type { AlertRule, AlertsConfig } from "../config/alerts.ts";
import type { Clock } from "../runtime/clock.ts";
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
import { WallAnchors } from "./anchors.ts";
import type { ChannelDeps } from "./channels.ts";
import { type AlertInputs, type Condition, durationText, evaluateRule } from "./conditions.ts";
import { Dispatcher } from "./dispatch.ts";
import { checkStoredRules, type RuleSet, STORED_RULES_FIX } from "./stored_rules.ts";

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
  /** Attempts under way at once over all channels (default 8; one per channel at most). */
  maxParallelSends?: number;
  /** How long an attempt past its deadline is waited for before it is abandoned (ms; tests). */
  attemptGraceMs?: number;
}

/** The least pause after a pass that failed (KV refusing reads or commits). */
const FAILED_PASS_PAUSE_MS = 1000;

const key = (rule: string, subject: string) => `${rule}\u0000${subject}`;

/**
 * Firing alerts brought up to date (their text alone changed) one evaluation stores at most, the
 * rest on the next ones: its commit stays well under KV's 1000 mutations.
 */
const MAX_REFRESHES = 200;

/** A queue alert's worst as a resolved says it (`; at worst 20001 waiting, oldest message 19 min old`). */
function worstText(worst: AlertState["worst"]): string {
  if (!worst) return "";
  const age = worst.oldestAgeMs !== undefined
    ? `, oldest message ${durationText(worst.oldestAgeMs)} old`
    : "";
  return `; at worst ${worst.depth} waiting${age}`;
}

/** The worst of `worst` and the numbers of now. */
function worstOf(worst: AlertState["worst"], m: Condition["measure"]): AlertState["worst"] {
  if (!m) return worst;
  const depth = Math.max(worst?.depth ?? 0, m.depth);
  const ages = [worst?.oldestAgeMs, m.oldestAgeMs].filter((a) => a !== undefined);
  return { depth, ...(ages.length ? { oldestAgeMs: Math.max(...ages) } : {}) };
}

/**
 * `state` brought up to date with what holds now (`c`), or `undefined` when nothing it would show
 * changed: its summary (kept when `c` only holds it, an attempt under way saying less than the
 * cause it keeps), what it is about, and the worst seen (stored once the resolved's text of it
 * would change, so a growing age is written once a minute at most).
 */
function refreshed(state: AlertState, c: Condition): AlertState | undefined {
  const summary = c.holdOnly ? state.summary : c.summary;
  const about = c.about ?? state.about;
  const worst = worstOf(state.worst, c.measure);
  if (
    summary === state.summary && about === state.about &&
    worstText(worst) === worstText(state.worst)
  ) {
    return undefined;
  }
  return {
    ...state,
    summary,
    ...(about !== undefined ? { about } : {}),
    ...(worst ? { worst } : {}),
  };
}

/**
 * A resolved's summary: how long the alert lasted and, for a queue, its name and the worst seen
 * while it fired (the last summary's numbers are those of a queue almost back under its limits);
 * else the last summary.
 */
function resolvedText(s: AlertState, lastedMs: number, removed: boolean): string {
  const what = s.about !== undefined && s.worst ? `${s.about}${worstText(s.worst)}` : s.summary;
  const lasted = durationText(lastedMs);
  return removed
    ? `rule ${s.rule} removed (firing for ${lasted}): ${what}`
    : `resolved after ${lasted}: ${what}`;
}

/** See the module doc. */
export class AlertMonitor {
  readonly #o: AlertMonitorOptions;
  readonly #alerts: AlertStore;
  readonly #leases: Leases;
  /** When the monitor started, on the monotonic clock (the baseline of "no traffic yet"). */
  readonly #startedMono: number;
  /** The wall timestamps durations are counted from, tied to monotonic readings. */
  readonly #anchors: WallAnchors;
  /** The inputs, with the last message's time counted from on the monotonic clock. */
  readonly #steadyInputs: AlertInputs;
  /** When a condition without a `since` of its own was first seen holding (wall time). */
  readonly #firstSeen = new Map<string, number>();
  readonly #stop = new AbortController();
  readonly #dispatch: Dispatcher;
  #wake = new AbortController();
  /** Aborted when a retry falls due before the loop's sleep would end. */
  #resched: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #held = false;
  #waiters: (() => void)[] = [];
  /** The stored rules last reported invalid (JSON), so the WARN is logged once for them. */
  #warnedStored: string | undefined;

  /** A monitor; {@link start} runs it. */
  constructor(options: AlertMonitorOptions) {
    this.#o = options;
    this.#alerts = alertStoreOf(options.store);
    const ttlMs = Math.max(30_000, 3 * options.config().evaluateEverySeconds * 1000);
    this.#leases = options.store.leases({ ttlMs, now: () => options.clock.now() });
    this.#startedMono = options.clock.monotonic();
    const anchors = (this.#anchors = new WallAnchors(options.clock));
    const base = options.inputs;
    this.#steadyInputs = {
      countFailed: (filter, atLeast) => base.countFailed(filter, atLeast),
      actors: () => base.actors(),
      // The last message's time as a never-stepped wall clock would show it now.
      lastReceived: async (integrationId) => {
        const at = await base.lastReceived(integrationId);
        return at === undefined ? undefined : anchors.steady(`last\u0000${integrationId}`, at);
      },
      storeHealth: () => base.storeHealth(),
      expiries: () => base.expiries(),
      actorOfDestination: (id) => base.actorOfDestination(id),
      // Optional ones, passed on when given (summaries name the destinations and the newest
      // failed log through them).
      ...(base.failedLogs ? { failedLogs: base.failedLogs.bind(base) } : {}),
      ...(base.destinationsOfActor
        ? { destinationsOfActor: base.destinationsOfActor.bind(base) }
        : {}),
    };
    this.#dispatch = new Dispatcher({
      alerts: this.#alerts,
      channels: () => options.config().channels,
      deps: options.deps,
      clock: options.clock,
      log: options.log,
      ...(options.maxParallelSends !== undefined ? { maxParallel: options.maxParallelSends } : {}),
      ...(options.attemptGraceMs !== undefined ? { graceMs: options.attemptGraceMs } : {}),
      onRetry: () => this.#resched?.abort(),
    });
  }

  /** Starts evaluating: at once, then every `evaluateEverySeconds` (sooner for a retry due). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Stops the loop, aborts the sends under way (their deliveries stay pending in KV, to be sent
   * after a restart or by the next lease holder) and gives the lease up. No send starts after it.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#dispatch.close();
    await this.#loop;
    await this.#leases.release(ALERTS_LEASE).catch(() => {});
  }

  /** Evaluates now (after a rule change) instead of at the next interval. */
  wake(): void {
    this.#wake.abort();
  }

  /**
   * Resolves when the loop's next pass (evaluation, then the sends it started) has finished (tests
   * on a manual clock).
   */
  nextTick(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The rules in force: those set through the admin API, else the config's. */
  async rules(): Promise<AlertRule[]> {
    return (await this.ruleSet()).rules;
  }

  /**
   * The rules in force and their source. Stored rules are checked with the schema
   * `PUT /admin/alerts` uses every time they are read: rules an older engine stored that this one
   * refuses are not used (the config's are), and `alerts.stored-rules-invalid` is logged once for
   * them, with every problem at its path.
   */
  async ruleSet(): Promise<RuleSet> {
    const stored = await this.#alerts.rules<unknown>();
    if (stored === undefined) {
      this.#warnedStored = undefined;
      return { rules: this.#o.config().rules, source: "config" };
    }
    const checked = checkStoredRules(stored);
    if (checked.ok) {
      this.#warnedStored = undefined;
      return { rules: checked.rules, source: "admin" };
    }
    const seen = JSON.stringify(stored);
    if (this.#warnedStored !== seen) {
      this.#warnedStored = seen;
      this.#o.log.warn("alerts.stored-rules-invalid", {
        problems: checked.problems.map((p) => `${p.path}: ${p.message}`).join("; "),
        using: "the config's rules",
        fix: STORED_RULES_FIX,
      });
    }
    return {
      rules: this.#o.config().rules,
      source: "config",
      storedRulesProblems: checked.problems,
    };
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
    // Stored rules are checked at start on every process, not only on the lease holder (a failed
    // read is the passes' to report).
    await this.ruleSet().catch(() => {});
    while (!signal.aborted) {
      const startedAt = this.#o.clock.monotonic();
      // A wake during this pass must not be lost: it ends the coming sleep.
      if (this.#wake.signal.aborted) this.#wake = new AbortController();
      let settled = Promise.resolve();
      let failed = false;
      try {
        settled = (await this.#pass()).settled;
      } catch (error) {
        failed = true;
        this.#o.log.warn("alerts.evaluation-failed", { error });
      }
      // The sends go on in the background; who waits for this pass waits for them too.
      const waiters = this.#waiters.splice(0);
      void settled.then(() => waiters.forEach((w) => w()));
      if (signal.aborted) break;
      await this.#sleep(startedAt, signal, failed ? FAILED_PASS_PAUSE_MS : 0);
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * Sleeps until the next evaluation or the earliest retry due (a new retry reschedules it), and
   * at least `minMs` (after a failed pass, so a KV in trouble is not retried in a tight loop). All
   * on the monotonic clock (`startedAt` too).
   */
  async #sleep(startedAt: number, signal: AbortSignal, minMs: number): Promise<void> {
    const { clock } = this.#o;
    const earliest = clock.monotonic() + minMs;
    for (;;) {
      const now = clock.monotonic();
      let wait = startedAt + this.#o.config().evaluateEverySeconds * 1000 - now;
      const due = this.#held ? this.#dispatch.nextDue() : undefined;
      if (due !== undefined) wait = Math.min(wait, due - now);
      wait = Math.max(wait, earliest - now);
      if (wait <= 0 || signal.aborted || this.#wake.signal.aborted) return;
      const resched = (this.#resched = new AbortController());
      await clock.sleep(wait, AbortSignal.any([signal, this.#wake.signal, resched.signal]));
      if (!resched.signal.aborted) return;
    }
  }

  /**
   * One evaluation and one pass over the outbox, if this process holds the lease; resolves once
   * the sends it started (or found under way) have ended.
   */
  async tick(): Promise<void> {
    await (await this.#pass()).settled;
  }

  /** Evaluates and queues what is due; resolves (with the sends' end) without waiting for them. */
  async #pass(): Promise<{ settled: Promise<void> }> {
    if (!(await this.#leases.acquire(ALERTS_LEASE))) {
      if (this.#held) {
        this.#held = false;
        await this.#dispatch.halt("the alerts lease went to another process");
      }
      return { settled: Promise.resolve() };
    }
    this.#held = true;
    await this.#evaluate();
    return await this.#dispatch.drain();
  }

  async #evaluate(): Promise<void> {
    const { clock, log } = this.#o;
    const config = this.#o.config();
    const now = clock.now();
    const anchors = this.#anchors;
    const inputs = this.#steadyInputs;
    // The start as a never-stepped wall clock would show it now.
    const startedAt = now - (clock.monotonic() - this.#startedMono);
    const rules = await this.rules();
    const states = new Map((await this.#alerts.states()).map((s) => [key(s.rule, s.subject), s]));
    const held = new Set<string>();
    /** Subjects in alarm this pass, over every rule. */
    const seen = new Set<string>();
    const t: Required<AlertTransition> = { put: [], remove: [], notify: [] };
    let refreshes = 0;
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
        conditions = await evaluateRule(rule, inputs, now, startedAt);
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
        seen.add(k);
        const state = states.get(k);
        // Neither holding nor over (an attempt under way): an alert firing stays, none starts.
        if (c.holdOnly && !state) continue;
        let since = state?.since ?? c.since;
        if (since === undefined) {
          since = this.#firstSeen.get(k) ?? now;
          this.#firstSeen.set(k, since);
        }
        if (!state && anchors.since(`since\u0000${k}`, since) < forMs) continue;
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
            ...(c.about !== undefined ? { about: c.about } : {}),
            ...(c.measure ? { worst: worstOf(undefined, c.measure)! } : {}),
          };
          anchors.mark(`notified\u0000${k}`, now);
          t.put.push(s);
          notify(s, "firing", rule);
        } else if (
          rule.remindEverySeconds !== undefined &&
          anchors.since(`notified\u0000${k}`, state.lastNotifiedAt) >=
            rule.remindEverySeconds * 1000
        ) {
          const s = {
            ...(refreshed(state, c) ?? state),
            lastNotifiedAt: now,
            reminders: state.reminders + 1,
          };
          anchors.mark(`notified\u0000${k}`, now);
          t.put.push(s);
          notify(s, "reminder", rule);
        } else if (refreshes < MAX_REFRESHES) {
          // Still firing: what it says is kept up to date, without notifying anyone (a text
          // changing is no new alert; the next reminder or the resolved carries it).
          const s = refreshed(state, c);
          if (s) {
            refreshes++;
            t.put.push(s);
          }
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
      const lasted = anchors.since(`since\u0000${k}`, s.since);
      notify({ ...s, summary: resolvedText(s, lasted, !rule) }, "resolved", rule);
    }
    // Anchors of subjects no longer in alarm (nor remembered) and of integrations not watched go.
    const watched = new Set(rules.flatMap((r) => r.kind === "no-traffic" ? [r.integration] : []));
    anchors.retain((a) => {
      const at = a.indexOf("\u0000");
      const tag = a.slice(0, at);
      const of = a.slice(at + 1);
      if (tag === "last") return watched.has(of);
      return seen.has(of) || held.has(of) || this.#firstSeen.has(of);
    });
    await this.#alerts.commit(t);
  }
}
