/**
 * A client's text (a problem that may quote the request, a header value) cut for an answer or a
 * log line, so that a hostile request cannot make either huge.
 * @module
 */

/** Most characters of a problem (or a header value) quoted in a log line or an answer. */
export const CLIP_CHARS = 300;

/**
 * `text`, cut to `max` characters with its length said.
 *
 * @example
 * ```ts
 * clip("x".repeat(1000)); // "xxx…x… (1000 characters)", 300 x's
 * ```
 */
export function clip(text: string, max = CLIP_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
