/**
 * Secrets in the config (see `schema.ts`): a reference (`{"env": "NAME"}` or `{"file": "path"}`)
 * resolved while parsing, through the {@link ConfigSources} given, into a {@link Secret}; a
 * missing variable, an unreadable or empty file is a config error at its JSON path like any
 * other.
 * @module
 */

import { z } from "zod";
import { Secret } from "./secret.ts";
import { exactlyOne } from "./schema_values.ts";

/** Reads a variable or a file while the config is parsed; injected so parsing stays pure. */
export interface ConfigSources {
  /** The value of an environment variable, or `undefined` when unset. */
  env(name: string): string | undefined;
  /**
   * A file's text, or an `Error` saying why it cannot be read. A secret's one trailing line end
   * (`\n` or `\r\n`) is removed by the schema, not here.
   */
  readFile(path: string): string | Error;
}

/** The schema of a secret reference, resolved through `sources` (see the module doc). */
// The inferred zod type is what the sections chain on (`.optional()`, `.refine()`).
// deno-lint-ignore explicit-module-boundary-types
export function secretSchema(sources: ConfigSources) {
  return exactlyOne(
    z.strictObject(
      { env: z.string().min(1).optional(), file: z.string().min(1).optional() },
      { error: notAReference },
    ),
    ["env", "file"],
    'a secret is referenced as {"env": "NAME"} or {"file": "path"}',
  ).transform((ref, ctx) => {
    if (ref.env !== undefined) {
      const value = sources.env(ref.env);
      if (value === undefined || value === "") {
        ctx.issues.push({
          code: "custom",
          input: ref,
          message: `environment variable ${ref.env} is not set`,
        });
        return z.NEVER;
      }
      return new Secret(value, `env:${ref.env}`);
    }
    const file = ref.file ?? "";
    const text = sources.readFile(file);
    if (text instanceof Error) {
      ctx.issues.push({
        code: "custom",
        input: ref,
        message: `cannot read ${file}: ${text.message}`,
      });
      return z.NEVER;
    }
    // One line end is what `echo token > file`, editors and Kubernetes/Docker secrets add: it is
    // not part of the secret. Only one, and nothing else: spaces inside or before it are kept.
    const value = text.replace(/\r?\n$/, "");
    if (value === "") {
      ctx.issues.push({ code: "custom", input: ref, message: `file ${file} is empty` });
      return z.NEVER;
    }
    return new Secret(value, `file:${file}`);
  });
}

/** How a secret is written (README "Configuration"), for the messages below. */
const FORMS =
  '{"env": "NAME"} (an environment variable) or {"file": "path"} (a file, relative to ' +
  "the config's folder)";

/**
 * The message of a secret that is no reference: absent, or a value written inline (a string
 * most often). Never the value itself, which may be the real secret.
 */
function notAReference(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "invalid_type") return undefined; // unknown keys: zod's message names them
  const input = issue.input;
  if (input === undefined) {
    return 'required (a secret reference: {"env": "NAME"} or {"file": "path"})';
  }
  if (typeof input === "string" || typeof input === "number" || typeof input === "boolean") {
    return `a secret is given by reference, not inline: ${FORMS}`;
  }
  return `expected a secret reference: ${FORMS}`;
}

/** What {@link secretSchema} builds: the schema every secret of the config goes through. */
export type SecretSchema = ReturnType<typeof secretSchema>;
