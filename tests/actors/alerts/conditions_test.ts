/**
 * Every alert rule kind, on what the engine shows, through the monitor on a manual clock: fires,
 * reminds, resolves; durations counted from when the condition started; watched hours.
 */

import assert from "node:assert/strict";
import {
  activeMs,
  type AlertInputs,
  evaluateRule,
  withinHours,
} from "../../../actors/alerts/conditions.ts";
import { type AlertRule, alertRuleSchema } from "../../../actors/config/alerts.ts";
import { actor, cycle } from "./rule_rig.ts";

Deno.test("queue rule: depth and oldest age fire, remind, resolve", async () => {
  await cycle({ kind: "queue", destination: "lab", maxDepth: 10, maxAgeSeconds: 300 }, (w, c) => [
    () => [],
    () => (w.actors = [actor({ queueDepth: 11 })], ["firing:https:lab"]),
    () => (c.advance(600_000),
      w.actors = [actor({ queueDepth: 5, oldestAgeMs: 400_000 })],
      ["reminder:https:lab"]),
    () => (w.actors = [actor({ queueDepth: 5, oldestAgeMs: 10_000 })], ["resolved:https:lab"]),
  ]);
});

Deno.test("actor-stalled rule: paused or backing off for longer than T", async () => {
  await cycle({ kind: "actor-stalled", forSeconds: 300 }, (w, c) => [
    () => (w.actors = [actor({ state: "backoff", lastError: "connection refused" })], []),
    () => (c.advance(200_000), []),
    () => (c.advance(100_000), ["firing:https:lab"]),
    () => (w.actors = [actor({ state: "idle" })], ["resolved:https:lab"]),
    // Paused since a known time: counted from then, not from the first sight.
    () => (w.actors = [actor({ state: "paused", paused: { by: "ops", at: c.now() - 301_000 } })],
      ["firing:https:lab"]),
  ]);
});

Deno.test("actor-stalled rule: a retry of a failed head neither resolves nor refires it", async () => {
  const failing = { messageId: "m1", logId: "l1", attempts: 3 };
  await cycle({ kind: "actor-stalled", forSeconds: 15 }, (w, c) => [
    () => (w.actors = [
      actor({ state: "backoff", inFlight: failing, lastError: "no ACK within 3 s" }),
    ],
      []),
    () => (c.advance(16_000), ["firing:https:lab"]),
    // Out of backoff, awaiting the ACK of the same failed head: still stalled, nothing sent.
    () => (w.actors = [
      actor({ state: "awaiting-ack", inFlight: failing, lastError: "no ACK within 3 s" }),
    ],
      []),
    () => (c.advance(3_000),
      w.actors = [actor({
        state: "backoff",
        inFlight: { ...failing, attempts: 4 },
        lastError: "no ACK within 3 s",
      })],
      []),
    // After a restart: retrying the same head, no error in this process's memory yet.
    () => (w.actors = [actor({ state: "awaiting-ack", inFlight: failing })], []),
    // The first attempt after a restart, its head not yet shown: not known to be over, kept.
    () => (w.actors = [actor({ state: "awaiting-ack", queueDepth: 1 })], []),
    // Delivered, the queue empty: resolved.
    () => (w.actors = [actor({ state: "idle" })], ["resolved:https:lab"]),
    // A healthy first attempt starts no alert, however long it lasts.
    () => (w.actors = [actor({ state: "awaiting-ack", queueDepth: 1 })], []),
    () => (c.advance(60_000), []),
  ]);
});

Deno.test("queue and actor-stalled summaries name the destinations, the depth and why", async () => {
  const shared = actor({
    id: "mllp-out:10.0.0.5:6661",
    kind: "mllp-out",
    state: "paused",
    queueDepth: 20_001,
    oldestAgeMs: 400_000,
    paused: { by: "ops", reason: "peer down until 08:00" },
    lastError: "connect to 10.0.0.5:6661 failed: Connection refused",
  });
  const inputs: AlertInputs = {
    countFailed: () => Promise.resolve(0),
    actors: () => Promise.resolve([shared]),
    lastReceived: () => Promise.resolve(undefined),
    storeHealth: () => ({ writable: true, since: 0 }),
    expiries: () => [],
    actorOfDestination: () => shared.id,
    destinationsOfActor: (id) => id === shared.id ? ["ehr-adt", "ehr-bulk"] : [],
  };
  const rule = (r: Record<string, unknown>) =>
    alertRuleSchema.parse({ id: "r", ...r }) as AlertRule;
  const [queue] = await evaluateRule(rule({ kind: "queue", maxAgeSeconds: 300 }), inputs, 0, 0);
  assert.equal(
    queue?.summary,
    "queue mllp-out:10.0.0.5:6661 (destination ehr-adt, ehr-bulk): oldest message 400 s old > " +
      "300 s; 20001 waiting, paused by ops: peer down until 08:00 (last error: connect to " +
      "10.0.0.5:6661 failed: Connection refused)",
  );
  const [stalled] = await evaluateRule(
    rule({ kind: "actor-stalled", forSeconds: 60 }),
    inputs,
    0,
    0,
  );
  assert.match(
    stalled?.summary ?? "",
    /\(destination ehr-adt, ehr-bulk\) paused by ops: .*20001 waiting$/,
  );
});

Deno.test("no-traffic rule, within weekday hours in a time zone", async () => {
  const hours = { days: ["mon", "tue", "wed", "thu", "fri"], from: "06:00", to: "22:00" };
  await cycle(
    {
      kind: "no-traffic",
      integration: "lab",
      forSeconds: 3600,
      hours: { ...hours, timeZone: "UTC" },
    },
    (w, c) => [
      () => (w.lastReceived = c.now() - 1800_000, []),
      () => (c.advance(1800_000), ["firing:lab"]),
      () => (w.lastReceived = c.now(), ["resolved:lab"]),
      // Last message Monday 21:30; at 22:30 outside the hours nothing fires. Tuesday 06:20 is 9 h
      // of silence but 50 watched minutes; at 06:30 the hour is full.
      () => (c.advance(10 * 3600_000), w.lastReceived = c.now() - 3600_000, []),
      () => (c.advance(7 * 3600_000 + 50 * 60_000), []),
      () => (c.advance(10 * 60_000), ["firing:lab"]),
    ],
  );
});

Deno.test("store-unavailable rule, after forSeconds of refused commits", async () => {
  await cycle({ kind: "store-unavailable", forSeconds: 60 }, (w, c) => [
    () => (w.health = { writable: false, since: c.now(), reason: "database or disk is full" }, []),
    () => (c.advance(60_000), ["firing:kv"]),
    () => (w.health = { writable: true, since: c.now() }, ["resolved:kv"]),
  ]);
});

Deno.test("certificate-expiry rule: each certificate or key within D days", async () => {
  await cycle({ kind: "certificate-expiry", withinDays: 14 }, (w, c) => [
    () => (w.expiries = [
      { subject: "listener 6661 tls.cert", notAfter: c.now() + 20 * 86_400_000 },
      { subject: "integration lab sftp key 0", notAfter: c.now() + 10 * 86_400_000 },
    ],
      ["firing:integration lab sftp key 0"]),
    () => (c.advance(7 * 86_400_000),
      ["firing:listener 6661 tls.cert", "reminder:integration lab sftp key 0"]),
    () => (w.expiries = [],
      ["resolved:integration lab sftp key 0", "resolved:listener 6661 tls.cert"]),
  ]);
});

Deno.test("watched hours: spans midnight, zone-aware; active time counted by the minute", () => {
  const night = { days: ["mon"] as const, from: "22:00", to: "06:00", timeZone: "UTC" };
  assert.ok(withinHours(Date.UTC(2026, 0, 5, 23), { ...night, days: [...night.days] }));
  assert.ok(!withinHours(Date.UTC(2026, 0, 5, 12), { ...night, days: [...night.days] }));
  const chicago = {
    days: ["mon" as const],
    from: "06:00",
    to: "22:00",
    timeZone: "America/Chicago",
  };
  // 11:00 UTC is 05:00 in Chicago (CST): not yet.
  assert.ok(!withinHours(Date.UTC(2026, 0, 5, 11), chicago));
  assert.ok(withinHours(Date.UTC(2026, 0, 5, 13), chicago));
  const from = Date.UTC(2026, 0, 5, 11);
  assert.equal(activeMs(from, Date.UTC(2026, 0, 5, 13), chicago, Infinity), 3600_000);
});

Deno.test("rule schema: a queue rule needs a limit; unknown fields refused with their path", () => {
  const bad = alertRuleSchema.safeParse({ id: "q", kind: "queue" });
  assert.equal(bad.success, false);
  const extra = alertRuleSchema.safeParse({
    id: "f",
    kind: "failed-logs",
    threshold: 1,
    windowSeconds: 1,
    colour: "red",
  });
  assert.equal(extra.success, false);
});
