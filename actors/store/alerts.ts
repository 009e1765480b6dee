/**
 * Alerts in KV, shared by every process on it: which alerts are firing (so a restart neither
 * repeats a firing nor forgets to resolve it), the outbox of notifications still to be sent
 * (committed with the state change that caused them, so none is lost between the two), the
 * history of every notification, and the rules an operator set through the admin API.
 * @module
 */

import { keys } from "./keys.ts";
import { getValues, withKvRetry } from "./kv.ts";
import type { Store } from "./store.ts";

/** What a notification says happened. */
export type AlertEvent = "firing" | "reminder" | "resolved";

/** An alert that is firing: one rule about one subject (a queue, an integration, a key...). */
export interface AlertState {
  rule: string;
  kind: string;
  subject: string;
  /** When it started (ms). */
  since: number;
  /** When a notification about it was last queued (ms). */
  lastNotifiedAt: number;
  reminders: number;
  /** What holds now: kept up to date while it fires (stored when it changes), not only at firing. */
  summary: string;
  /** What it is about without the numbers of the moment (a queue's name), for the resolved. */
  about?: string;
  /** A queue alert: the deepest the queue and the oldest its head were while it fired. */
  worst?: { depth: number; oldestAgeMs?: number };
}

/** One channel's part of a notification. */
export interface ChannelDelivery {
  channel: string;
  status: "pending" | "sent" | "failed";
  attempts: number;
  /** When to try again (ms), while pending. */
  nextAt: number;
  lastError?: string;
  sentAt?: number;
}

/** A notification, as sent and as listed in the history. */
export interface AlertNotification {
  /** Time-ordered id (the history key). */
  id: string;
  at: number;
  event: AlertEvent;
  rule: string;
  kind: string;
  subject: string;
  summary: string;
  /** When the alert started. */
  since: number;
  /** The node that sent it. */
  node: string;
  deliveries: ChannelDelivery[];
}

/** A set of changes committed together (one evaluation's transitions). */
export interface AlertTransition {
  /** States to write (new firings, reminders). */
  put?: AlertState[];
  /** States to remove (resolved). */
  remove?: { rule: string; subject: string }[];
  /** Notifications to queue (and record in the history). */
  notify?: AlertNotification[];
}

/** Reads and writes alert records; see the module doc. */
export class AlertStore {
  readonly #kv: Deno.Kv;

  /** Records in `kv`. Use {@link alertStoreOf}. */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Every firing alert. */
  async states(): Promise<AlertState[]> {
    const out: AlertState[] = [];
    for await (const e of this.#kv.list<AlertState>({ prefix: keys.alertStatePrefix })) {
      out.push(e.value);
    }
    return out;
  }

  /** Commits state changes with their notifications (outbox and history) in one atomic step. */
  async commit(t: AlertTransition): Promise<void> {
    const mutations = (t.put?.length ?? 0) + (t.remove?.length ?? 0) + 2 * (t.notify?.length ?? 0);
    if (mutations === 0) return;
    // KV takes at most 1000 mutations an atomic; an evaluation changing more is split by rule
    // subjects, each notification with its state change.
    const op = this.#kv.atomic();
    for (const s of t.put ?? []) op.set(keys.alertState(s.rule, s.subject), s);
    for (const r of t.remove ?? []) op.delete(keys.alertState(r.rule, r.subject));
    for (const n of t.notify ?? []) {
      op.set(keys.alertOutbox(n.id), n.id);
      op.set(keys.alertHistory(n.id), n);
    }
    const result = await withKvRetry(() => op.commit());
    if (!result.ok) throw new Error("alerts: commit refused");
  }

  /** Notifications with a channel still pending, oldest first. */
  async outbox(limit = 100): Promise<AlertNotification[]> {
    const ids: string[] = [];
    for await (const e of this.#kv.list<string>({ prefix: keys.alertOutboxPrefix }, { limit })) {
      ids.push(e.value);
    }
    const found = await getValues<AlertNotification>(this.#kv, ids.map(keys.alertHistory));
    return found.filter((n) => n !== null);
  }

  /** Saves a notification's delivery progress; it leaves the outbox when no channel is pending. */
  async record(n: AlertNotification): Promise<void> {
    const op = this.#kv.atomic().set(keys.alertHistory(n.id), n);
    if (!n.deliveries.some((d) => d.status === "pending")) op.delete(keys.alertOutbox(n.id));
    await withKvRetry(() => op.commit());
  }

  /** The history, newest first; `before` continues after a previous page's last id. */
  async history(
    options: { limit?: number; before?: string } = {},
  ): Promise<{ notifications: AlertNotification[]; next?: string }> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const notifications: AlertNotification[] = [];
    const selector = options.before
      ? { prefix: keys.alertHistoryPrefix, end: keys.alertHistory(options.before.slice(0, 200)) }
      : { prefix: keys.alertHistoryPrefix };
    for await (
      const e of this.#kv.list<AlertNotification>(selector, { reverse: true, limit: limit + 1 })
    ) {
      if (notifications.length === limit) return { notifications, next: notifications.at(-1)!.id };
      notifications.push(e.value);
    }
    return { notifications };
  }

  /** Rules set by an operator (replacing the config's), if any. */
  async rules<T>(): Promise<T[] | undefined> {
    return (await this.#kv.get<T[]>(keys.alertRules)).value ?? undefined;
  }

  /** Saves an operator's rules; `undefined` goes back to the config's. */
  async setRules<T>(rules: T[] | undefined): Promise<void> {
    if (rules === undefined) await withKvRetry(() => this.#kv.delete(keys.alertRules));
    else await withKvRetry(() => this.#kv.set(keys.alertRules, rules));
  }
}

/** The alert records of `store`'s KV. */
export function alertStoreOf(store: Store): AlertStore {
  return new AlertStore(store.kv);
}
