/**
 * What a config reload changes for the engine's actors, worked out from the running config and the
 * new one (pure: no store, no actor). app/reload.ts refuses what cannot be applied live; the engine
 * (engine.ts `reconfigure`) applies the rest.
 * @module
 */

import type { Config, DestinationConfig } from "../config/mod.ts";
import { Secret } from "../config/secret.ts";
import { destinationActorId } from "./identities.ts";

/** One problem of a refused reload, at its JSON path. */
export interface ReloadProblem {
  path: string;
  message: string;
}

/** The actors a reload touches. */
export interface ActorChanges {
  /** Delivery actors whose settings changed: restarted after their message in flight. */
  restart: string[];
  /** Delivery actors no destination uses any more: stopped. */
  stop: string[];
  /** Delivery actors a new destination needs (activated by their first message). */
  start: string[];
  /**
   * MLLP destinations whose host or port changed, by old actor id → new actor id: the old queue
   * is delivered to the new address first, then the new queue (FIFO kept).
   */
  moved: Map<string, string>;
  /** SFTP pollers to stop, and to (re)start. */
  pollersStop: string[];
  pollersStart: string[];
}

/** Sections read once at start: a change to them needs a restart. */
export const RESTART_ONLY = [
  "node",
  "kv",
  "cluster",
  "http",
  "admin",
  "limits",
  "sources",
  "sftpServer",
  "sandbox",
] as const;

/** JSON for comparison only: secrets are compared by value (never logged). */
export function sameJson(a: unknown, b: unknown): boolean {
  const text = (v: unknown) =>
    JSON.stringify(v, function (this: unknown, key: string) {
      const raw = (this as Record<string, unknown>)[key];
      return raw instanceof Secret ? `secret:${raw.reveal()}` : raw;
    });
  return text(a) === text(b);
}

/** Changes a reload cannot make live (the sections it would need a restart for). */
export function restartNeeded(running: Config, next: Config): ReloadProblem[] {
  const out: ReloadProblem[] = [];
  for (const key of RESTART_ONLY) {
    if (!sameJson(running[key], next[key])) {
      out.push({ path: `$.${key}`, message: "read at start: changing it needs a restart" });
    }
  }
  // Agent mode's actors and their application ACK wiring are built at start.
  const forwards = (c: Config) => ({
    d: c.destinations.filter((d) => d.forward),
    i: c.integrations.filter((i) => i.forward),
  });
  if (!sameJson(forwards(running), forwards(next))) {
    out.push({
      path: "$.destinations[*].forward",
      message: "agent mode (forward destinations and integrations) changes need a restart",
    });
  }
  // A listening port's settings (TLS, address) apply to its socket: new ports are opened live.
  for (const [i, l] of next.listeners.entries()) {
    const before = running.listeners.find((x) => x.port === l.port);
    const listening = running.integrations.some((x) => x.mllp?.port === l.port);
    if (before && listening && !sameJson(before, l)) {
      out.push({
        path: `$.listeners[${i}]`,
        message: `port ${l.port} is listening: changing its settings needs a restart ` +
          "(or move it to a new port)",
      });
    }
  }
  return out;
}

/** Delivery actor id → the settings of the destinations it delivers for (sorted by id). */
function deliveryActors(config: Config, sftp: boolean): Map<string, DestinationConfig[]> {
  const out = new Map<string, DestinationConfig[]>();
  for (const d of config.destinations) {
    if (d.forward) continue;
    if (!d.mllp && !d.https && !sftp) continue;
    const id = destinationActorId(d);
    out.set(id, [...out.get(id) ?? [], d]);
  }
  for (const list of out.values()) list.sort((a, b) => a.id.localeCompare(b.id));
  return out;
}

/** See {@link ActorChanges}; `sftp` is whether SFTP actors exist (the engine has a connector). */
export function actorChanges(running: Config, next: Config, sftp: boolean): ActorChanges {
  const before = deliveryActors(running, sftp);
  const after = deliveryActors(next, sftp);
  const changes: ActorChanges = {
    restart: [],
    stop: [],
    start: [],
    moved: new Map(),
    pollersStop: [],
    pollersStart: [],
  };
  for (const [id, dests] of before) {
    const now = after.get(id);
    if (!now) changes.stop.push(id);
    else if (!sameJson(dests, now)) changes.restart.push(id);
  }
  for (const id of after.keys()) if (!before.has(id)) changes.start.push(id);
  // The same destination at a new address: its old queue is moved (drained to the new address).
  for (const d of running.destinations) {
    if (!d.mllp) continue;
    const n = next.destinations.find((x) => x.id === d.id && x.mllp);
    const from = destinationActorId(d);
    if (!n || after.has(from)) continue;
    const to = destinationActorId(n);
    if (to !== from) changes.moved.set(from, to);
  }
  if (sftp) {
    const polled = (c: Config) =>
      new Map(c.integrations.filter((i) => i.sftp).map((i) => [i.id, i]));
    const p0 = polled(running);
    const p1 = polled(next);
    for (const [id, i] of p0) {
      const n = p1.get(id);
      if (!n || !sameJson(i, n)) changes.pollersStop.push(`sftp-poll:${id}`);
    }
    for (const [id, i] of p1) {
      const o = p0.get(id);
      if (!o || !sameJson(i, o)) changes.pollersStart.push(`sftp-poll:${id}`);
    }
  }
  return changes;
}

/** Destinations the new config no longer has (whose queues must be empty to remove them). */
export function removedDestinations(running: Config, next: Config): DestinationConfig[] {
  const kept = new Set(next.destinations.map((d) => d.id));
  return running.destinations.filter((d) => !kept.has(d.id));
}

/**
 * The problem of a new MLLP `port` of `next` that cannot be bound, at the config path of the
 * first integration listening on it (`$.integrations[3].mllp.port`); `reason` is the bind error,
 * which names the address and the OS's reason (`MLLP listener cannot bind 127.0.0.1:2575: address
 * already in use`).
 */
export function unboundPort(next: Config, port: number, reason: string): ReloadProblem {
  const i = next.integrations.findIndex((x) => x.mllp?.port === port);
  return {
    path: `$.integrations[${i}].mllp.port`,
    message: `integration ${next.integrations[i]?.id ?? "?"}: ${reason}`,
  };
}

/**
 * What a reload changes besides the delivery actors (those are {@link actorChanges}): integrations,
 * subscriptions, connections added, removed or changed, and the alerts section, one line each
 * (`changed subscription feed-to-lab`), so that `config.applied` says what a filter change or a
 * removed integration did. Subscriptions without an id are named by their place (`#2`).
 */
export function sectionChanges(running: Config, next: Config): string[] {
  const out: string[] = [];
  const diff = <T>(kind: string, before: readonly T[], after: readonly T[], idOf: KeyOf<T>) => {
    const old = new Map(before.map((x, i) => [idOf(x, i), x]));
    const now = new Map(after.map((x, i) => [idOf(x, i), x]));
    for (const [id, x] of now) {
      const was = old.get(id);
      if (was === undefined) out.push(`added ${kind} ${id}`);
      else if (!sameJson(was, x)) out.push(`changed ${kind} ${id}`);
    }
    for (const id of old.keys()) if (!now.has(id)) out.push(`removed ${kind} ${id}`);
  };
  const byId = (x: { id: string }) => x.id;
  diff("integration", running.integrations, next.integrations, byId);
  diff("subscription", running.subscriptions, next.subscriptions, (s, i) => s.id ?? `#${i + 1}`);
  diff("connection", running.connections, next.connections, byId);
  if (!sameJson(running.alerts, next.alerts)) out.push("changed alerts");
  return out;
}

/** How {@link sectionChanges} names an item of a list: its id, or its place. */
type KeyOf<T> = (item: T, index: number) => string;
