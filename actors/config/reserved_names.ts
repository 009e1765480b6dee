/**
 * The names no console user may take (the config's users and those added in the console): kept
 * apart from the config's schema so that the console and the engine's public face can name them
 * without loading it.
 * @module
 */

/**
 * Names no console user may take, in any case: each already stands for someone who is not a user,
 * in the audit log's `by` (`admin`: the admin token) or the reload logs' `by` (`SIGHUP`: a reload
 * by signal). A user so named could not be told apart from them.
 */
export const RESERVED_USER_NAMES: readonly string[] = ["admin", "SIGHUP"];

/** Why `name` may not be a console user's name, or undefined when it may. */
export function reservedUserName(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (!RESERVED_USER_NAMES.some((r) => r.toLowerCase() === lower)) return undefined;
  return `${RESERVED_USER_NAMES.join(" and ")} are reserved, in any case (admin is the admin ` +
    `token in the audit log, SIGHUP a reload by signal)`;
}
