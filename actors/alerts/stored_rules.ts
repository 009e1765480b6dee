/**
 * Rules an operator stored through `PUT /admin/alerts`, checked again whenever they are read. An
 * older engine may have stored rules the current schema refuses (a floor raised since, a field
 * renamed): those are not used, the config's rules are, and the problems are reported with the
 * paths a `PUT` would answer with (`$.rules[0].remindEverySeconds`).
 * @module
 */

import { z } from "zod";
import { type AlertRule, alertRuleSchema } from "../config/alerts.ts";
import { jsonPath } from "../config/load.ts";

/** One problem of the stored rules, at its path in a `PUT /admin/alerts` body. */
export interface StoredRuleProblem {
  path: string;
  message: string;
}

/** The rules in force and where they come from. */
export interface RuleSet {
  rules: AlertRule[];
  /** `admin`: stored through the admin API and valid; `config`: the config's. */
  source: "config" | "admin";
  /** Why stored rules were set aside (the config's apply instead); absent when none were. */
  storedRulesProblems?: StoredRuleProblem[];
}

/** What to do about stored rules that were set aside (logged and shown with them). */
export const STORED_RULES_FIX =
  'PUT /admin/alerts with valid rules, or {"rules": null} to go back to the config\'s rules';

const storedSchema = z.array(alertRuleSchema);

/**
 * Checks `stored` (as read from KV, unchecked) with the schema `PUT /admin/alerts` uses: the
 * parsed rules (defaults applied), or every problem with its path.
 */
export function checkStoredRules(
  stored: unknown,
): { ok: true; rules: AlertRule[] } | { ok: false; problems: StoredRuleProblem[] } {
  const parsed = storedSchema.safeParse(stored);
  if (parsed.success) return { ok: true, rules: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((i) => ({
      path: jsonPath(["rules", ...i.path]),
      message: i.message,
    })),
  };
}
