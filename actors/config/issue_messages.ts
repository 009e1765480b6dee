/**
 * The config's own wording for zod's issues where zod's says too little: a field left out is
 * `required, expected an array` (zod: `Invalid input: expected array, received undefined`), with
 * a hint of what to write for the fields every config of their kind needs (`mllp.allowedIps`).
 * Used as the error map of the whole config's parse (`load.ts`); a schema's own message wins.
 * @module
 */

import type { z } from "zod";

/**
 * What to write for a required field users leave out, by the last two keys of its path: shown
 * as `required (<hint>)`.
 */
const HINTS: Readonly<Record<string, string>> = {
  "mllp.allowedIps": 'an array of IP addresses or CIDRs, e.g. ["10.0.0.0/8"]',
};

/** zod's type names as a config's reader says them. */
const NOUNS: Readonly<Record<string, string>> = {
  array: "an array",
  object: "an object",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  record: "an object",
  tuple: "an array",
};

/**
 * The message of an issue of the config's parse, or undefined for zod's own: a field that is
 * absent (its input `undefined`) is `required`, with what is expected.
 *
 * @example
 * ```ts
 * configSchema(sources).safeParse(raw, { error: configErrorMap });
 * // $.integrations[1].mllp.port: required, expected a number
 * ```
 */
export function configErrorMap(issue: z.core.$ZodRawIssue): string | undefined {
  // Only an absent field: a wrong value keeps zod's (or its schema's) message.
  if (!("input" in issue) || issue.input !== undefined || issue.code === "custom") {
    return undefined;
  }
  const path = issue.path ?? [];
  const hint = HINTS[path.slice(-2).map(String).join(".")];
  if (hint) return `required (${hint})`;
  if (issue.code === "invalid_type") {
    const noun = NOUNS[issue.expected];
    return noun ? `required, expected ${noun}` : "required";
  }
  if (issue.code === "invalid_value") {
    return `required, expected ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}`;
  }
  return "required";
}
