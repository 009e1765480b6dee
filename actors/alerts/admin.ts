/**
 * What `GET/PUT /admin/alerts` and `GET /admin/alerts/history` see: the rules in force and where
 * they come from, the channels (never their secrets), what is firing, and the history. A PUT is
 * validated with the config's own schema and cross-checks: every problem answered with its path.
 * @module
 */

import { z } from "zod";
import { type AlertRule, alertRuleSchema, crossCheckAlerts } from "../config/alerts.ts";
import { jsonPath } from "../config/load.ts";
import type { Config } from "../config/mod.ts";
import type { AlertNotification } from "../store/alerts.ts";
import type { AlertMonitor } from "./monitor.ts";
import { type RuleSet, STORED_RULES_FIX } from "./stored_rules.ts";

/** The admin API's view of alerts (transports see this through ports.ts). */
export interface AlertsAdmin {
  /**
   * Rules, their source (`config` or `admin`), channels, firing alerts; and, when rules stored
   * by an older engine are refused by this one, `storedRulesProblems` (each with its path).
   */
  view(): Promise<Record<string, unknown>>;
  /** The rules in force and their source, as {@link view} shows them (the console reads it). */
  ruleSet(): Promise<RuleSet>;
  /**
   * Replaces the rules with `body.rules` (`null`: back to the config's). Refused with every
   * problem and its path (`$.rules[0].threshold`) when invalid; nothing changes then.
   */
  put(body: unknown): Promise<
    { ok: true; rules: unknown[] } | { ok: false; problems: { path: string; message: string }[] }
  >;
  /** Notifications, newest first. */
  history(
    options: { limit?: number; before?: string },
  ): Promise<{ notifications: AlertNotification[]; next?: string }>;
}

const putSchema = z.strictObject({ rules: z.array(alertRuleSchema).nullable() });

/** {@link AlertsAdmin} over a monitor and the running config. */
export function alertsAdmin(monitor: AlertMonitor, config: () => Config): AlertsAdmin {
  return {
    async view() {
      const c = config();
      const set = await monitor.ruleSet();
      return {
        source: set.source,
        evaluateEverySeconds: c.alerts.evaluateEverySeconds,
        channels: c.alerts.channels.map((ch) => ({
          id: ch.id,
          type: ch.webhook ? "webhook" : "email",
          ...(ch.webhook ? { url: ch.webhook.url } : {}),
          ...(ch.email ? { host: ch.email.host, port: ch.email.port, to: ch.email.to } : {}),
        })),
        rules: set.rules,
        // Rules stored by an older engine that this one refuses: set aside, the config's apply.
        ...(set.storedRulesProblems
          ? { storedRulesProblems: set.storedRulesProblems, storedRulesFix: STORED_RULES_FIX }
          : {}),
        firing: await monitor.firing(),
      };
    },
    async put(body) {
      const parsed = putSchema.safeParse(body);
      if (!parsed.success) {
        return {
          ok: false,
          problems: parsed.error.issues.map((i) => ({
            path: jsonPath(i.path),
            message: i.message,
          })),
        };
      }
      const rules: AlertRule[] | null = parsed.data.rules;
      if (rules) {
        const c = config();
        const problems = crossCheckAlerts(
          { channels: c.alerts.channels, rules },
          {
            integrations: new Set(c.integrations.map((i) => i.id)),
            destinations: new Set(c.destinations.map((d) => d.id)),
          },
          "$",
        );
        if (problems.length) return { ok: false, problems };
      }
      await monitor.setRules(rules ?? undefined);
      return { ok: true, rules: rules ?? config().alerts.rules };
    },
    history: (options) => monitor.history(options),
    ruleSet: () => monitor.ruleSet(),
  };
}
