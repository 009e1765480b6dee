/**
 * The small zod schemas the config's sections are made of (see `schema.ts`): ports, ids,
 * durations in seconds, IANA time zones, IP addresses or CIDR ranges, and an object with exactly
 * one of some keys set.
 * @module
 */

import { z } from "zod";
import { duration } from "./durations.ts";

/** One mebibyte, for byte limits. */
export const MiB = 1024 * 1024;

/** A port this engine connects to: 1 to 65535. */
export const port = z.number().int().min(1).max(65535);
/** A port this engine listens on: 0 lets the system choose (tests); compose reports the bound one. */
export const listenPort = z.number().int().min(0).max(65535);
/**
 * A timer's duration in seconds: at least `min` (why less harms: `why`), at most 2,147,483 (the
 * runtime's longest timer); durations.ts.
 */
// The inferred zod type is what callers chain on (`.default(30)`, `.max(600)`).
// deno-lint-ignore explicit-module-boundary-types
export const seconds = (min: number, why: string) => duration("seconds", { min, why });
/** An id: a letter or digit, then letters, digits, '.', '_' or '-', at most 128 in all. */
export const id = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  "expected an id of letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)",
);
/** An IANA time zone such as America/Chicago. */
export const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, "expected an IANA time zone such as America/Chicago");

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
/**
 * Whether `addr` (hex digits, `:` and `.` only) is an IPv6 address: the URL parser's own check
 * (eight groups, at most one `::`, an IPv4 tail only last). `":"` or `"1:2:3"` are not.
 */
function isIpv6(addr: string): boolean {
  try {
    new URL(`http://[${addr}]/`);
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 or IPv6 address, optionally with a CIDR prefix length. */
export const ipOrCidr = z.string().refine((value) => {
  const [addr = "", prefix, extra] = value.split("/");
  if (extra !== undefined) return false;
  const v4 = IPV4.test(addr);
  const v6 = !v4 && addr.includes(":") && IPV6.test(addr) && isIpv6(addr);
  if (!v4 && !v6) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (v4 ? 32 : 128);
}, "expected an IP address or CIDR range such as 10.0.0.0/8");

/**
 * An object with exactly one of `keys` set. Unlike a union, it keeps the nested issues of the
 * chosen branch (a union would report only that no branch matched).
 */
// The refined object's inferred type is what callers chain on (`.optional()`, `.transform()`).
// deno-lint-ignore explicit-module-boundary-types
export function exactlyOne<T extends z.ZodObject>(
  schema: T,
  keys: readonly string[],
  hint: string,
) {
  return schema.refine(
    (value) => keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined).length === 1,
    { message: `expected exactly one of ${keys.map((k) => `"${k}"`).join(", ")}: ${hint}` },
  );
}
