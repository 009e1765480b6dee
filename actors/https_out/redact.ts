/**
 * Keeps secrets out of what a remote side sends back: an error page or a "wrong body" may echo the
 * request, tokens included, and those snippets end up in logs and attempts.
 * @module
 */

/** The secret parts of request headers: the verification token and credential values. */
export function secretValues(headers: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name === "verification-token" || name === "x-amz-security-token") out.push(value);
    if (name === "authorization") {
      // The whole value and its credential part (after "Bearer "/"AWS4-HMAC-SHA256 ").
      out.push(value);
      const space = value.indexOf(" ");
      if (space > 0) out.push(value.slice(space + 1));
    }
  }
  // Longest first, so a value is replaced before any shorter part of it.
  return out.filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of a value of `secrets` replaced by `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("[redacted]");
  return out;
}
