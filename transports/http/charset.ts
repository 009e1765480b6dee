/**
 * The `charset` a JSON request names. JSON bodies are read as UTF-8 (RFC 8259); a body labelled
 * `charset=utf-16` or `iso-8859-1` was read as UTF-8 all the same: refused only when its bytes
 * happened not to be UTF-8, with a message that did not name the label, and taken as UTF-8 when
 * they were (a Latin-1 label on ASCII text, or UTF-16 that decodes to something else).
 * @module
 */

/**
 * The `charset` parameter of a Content-Type when it names anything but UTF-8 (`utf-8`, `utf8`,
 * any case, quoted or not), cut to 40 characters; `undefined` without one or for UTF-8.
 */
export function foreignCharset(type: string | undefined): string | undefined {
  if (type === undefined) return undefined;
  for (const param of type.split(";").slice(1)) {
    const eq = param.indexOf("=");
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "charset") continue;
    const value = param.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
    if (!/^utf-?8$/i.test(value)) return value.slice(0, 40);
  }
  return undefined;
}

/** The refusal's text for a foreign charset. */
export function charsetRefusal(charset: string): string {
  return `charset ${JSON.stringify(charset)} is not supported: send the JSON as UTF-8 ` +
    `(charset=utf-8, or no charset)`;
}
