/**
 * The `alerts` section of the config: channels (a signed webhook, e-mail over SMTP) and rules
 * (failed logs in a window, a deep or old queue, a stalled actor, an integration without traffic,
 * the store unavailable, a certificate or SSH key about to expire). `PUT /admin/alerts` validates
 * rules with the same schema, so a wrong rule is answered with its path either way.
 * @module
 */

import { z } from "zod";
import type { Secret } from "./secret.ts";
import { days, duration } from "./durations.ts";
import { id, seconds, timeZone } from "./schema_values.ts";

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "expected HH:MM (24-hour)");

/** Days of the week as rules name them. */
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** What every rule has: its id, where it is sent, how often it reminds. */
const common = {
  id,
  /** Channel ids; every channel when absent. */
  channels: z.array(id).optional(),
  /** While it lasts, a reminder every this many seconds; none when absent. */
  remindEverySeconds: seconds(60, "reminders would flood the channels").optional(),
};

/** The rule schema alone (for `PUT /admin/alerts`, which takes rules only). */
export const alertRuleSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    ...common,
    kind: z.literal("failed-logs"),
    /** Fires when at least this many logs failed within the window. */
    threshold: z.number().int().positive(),
    windowSeconds: seconds(1, "a shorter window counts almost no failures"),
    /** Only this integration's or destination's logs; all when neither is given. */
    integration: id.optional(),
    destination: id.optional(),
  }),
  z.strictObject({
    ...common,
    kind: z.literal("queue"),
    /** The actor whose queue is watched (e.g. `https:lab`); every queue when absent. */
    actor: z.string().min(1).optional(),
    /** A destination's queue, by destination id. */
    destination: id.optional(),
    maxDepth: z.number().int().nonnegative().optional(),
    maxAgeSeconds: seconds(1, "every queued message would be too old at once").optional(),
  }).refine((r) => r.maxDepth !== undefined || r.maxAgeSeconds !== undefined, {
    message: 'a queue rule needs "maxDepth", "maxAgeSeconds" or both',
  }),
  z.strictObject({
    ...common,
    kind: z.literal("actor-stalled"),
    /** Paused or backing off for at least this long. */
    forSeconds: seconds(1, "every backoff of a delivery would fire it"),
    actor: z.string().min(1).optional(),
  }),
  z.strictObject({
    ...common,
    kind: z.literal("no-traffic"),
    integration: id,
    /** Fires when nothing was received for this long (counted only within `hours`). */
    forSeconds: seconds(1, "it would fire between any two messages"),
    /** Only watched within these hours, e.g. weekdays 06:00–22:00 in the hospital's zone. */
    hours: z.strictObject({
      days: z.array(z.enum(WEEKDAYS)).min(1).default([...WEEKDAYS]),
      from: hhmm,
      to: hhmm,
      timeZone: timeZone.default("UTC"),
    }).optional(),
  }),
  z.strictObject({
    ...common,
    kind: z.literal("store-unavailable"),
    /** Fires once KV has refused commits for this long (0: at once). */
    forSeconds: duration("seconds", { min: 0, why: "fires at once" }).default(0),
  }),
  z.strictObject({
    ...common,
    kind: z.literal("certificate-expiry"),
    /** Fires for each certificate or SSH key of the config expiring within this many days. */
    withinDays: days({ min: 1, why: "the warning would come too late to renew in time" }),
  }),
]);

/** One validated alert rule. */
export type AlertRule = z.output<typeof alertRuleSchema>;

/** The `alerts` section's schema; secrets (webhook key, SMTP password) through `secret`. */
// The inferred type is the contract; spelling it out would duplicate it.
// deno-lint-ignore explicit-module-boundary-types
export function alertsSchema(secret: z.ZodType<Secret>) {
  const channel = z.strictObject({
    id,
    webhook: z.strictObject({
      url: z.url({ protocol: /^https?$/ }),
      /** HMAC-SHA256 key: the body's signature is sent in `X-Engine-Signature: sha256=<hex>`. */
      secret,
      timeoutSeconds: seconds(0.1, "the webhook gets no time to answer").default(10),
      /** Attempts before the notification is given up (logged), with doubling backoff. */
      attempts: z.number().int().min(1).max(20).default(5),
    }).optional(),
    email: z.strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(587),
      /** STARTTLS is required unless false (a test relay only). */
      startTls: z.boolean().default(true),
      user: z.string().min(1).optional(),
      password: secret.optional(),
      /** Extra CA bundle to trust for the server's certificate. */
      ca: secret.optional(),
      from: z.string().min(3),
      to: z.array(z.string().min(3)).min(1),
      timeoutSeconds: seconds(0.1, "the mail server gets no time to answer").default(30),
      attempts: z.number().int().min(1).max(20).default(5),
    }).optional(),
  }).refine((c) => (c.webhook === undefined) !== (c.email === undefined), {
    message: 'a channel needs exactly one of "webhook" or "email"',
  });
  return z.strictObject({
    /** How often rules are evaluated. */
    evaluateEverySeconds: seconds(1, "the rules would be evaluated in a busy loop").default(30),
    channels: z.array(channel).default([]),
    rules: z.array(alertRuleSchema).default([]),
  });
}

/** The validated `alerts` section. */
export type AlertsConfig = z.output<ReturnType<typeof alertsSchema>>;
/** One alert channel. */
export type AlertChannelConfig = AlertsConfig["channels"][number];

/** Cross-references of the section: unique ids, known channels, integrations, destinations. */
export function crossCheckAlerts(
  alerts: { channels: readonly { id: string }[]; rules: readonly AlertRule[] },
  known: { integrations: { has(id: string): boolean }; destinations: { has(id: string): boolean } },
  base = "$.alerts",
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const channels = new Set<string>();
  alerts.channels.forEach((c, i) => {
    if (channels.has(c.id)) {
      problems.push({ path: `${base}.channels[${i}].id`, message: "duplicate id" });
    }
    channels.add(c.id);
  });
  const rules = new Set<string>();
  alerts.rules.forEach((r, i) => {
    const at = `${base}.rules[${i}]`;
    if (rules.has(r.id)) problems.push({ path: `${at}.id`, message: "duplicate id" });
    rules.add(r.id);
    r.channels?.forEach((c, j) => {
      if (!channels.has(c)) {
        problems.push({ path: `${at}.channels[${j}]`, message: `unknown channel "${c}"` });
      }
    });
    if (
      "integration" in r && r.integration !== undefined && !known.integrations.has(r.integration)
    ) {
      problems.push({
        path: `${at}.integration`,
        message: `unknown integration "${r.integration}"`,
      });
    }
    if (
      "destination" in r && r.destination !== undefined && !known.destinations.has(r.destination)
    ) {
      problems.push({
        path: `${at}.destination`,
        message: `unknown destination "${r.destination}"`,
      });
    }
  });
  return problems;
}
