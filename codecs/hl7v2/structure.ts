/**
 * Low-level helpers on encoded text: picking and replacing the n-th part between delimiters, and
 * recognising segment IDs. Allocation-light, because every read goes through them.
 *
 * @module
 */

/**
 * The n-th (1-based) part of `s` split by `sep`, or undefined if `s` has fewer parts. Uses
 * indexOf instead of split so that reading one part of a large value allocates one slice.
 */
export function nthPart(s: string, sep: string, n: number): string | undefined {
  let start = 0;
  for (let k = 1; k < n; k++) {
    const j = s.indexOf(sep, start);
    if (j === -1) return undefined;
    start = j + 1;
  }
  const end = s.indexOf(sep, start);
  if (end === -1) return start === 0 ? s : s.slice(start);
  return s.slice(start, end);
}

/**
 * Replaces the n-th (1-based) part of `s` split by `sep` with `fn(oldPart)`, adding empty parts
 * when `s` has fewer than n.
 */
export function replacePart(
  s: string,
  sep: string,
  n: number,
  fn: (old: string) => string,
): string {
  if (n === 1 && s.indexOf(sep) === -1) return fn(s);
  const parts = s.split(sep);
  while (parts.length < n) parts.push("");
  parts[n - 1] = fn(parts[n - 1] as string);
  return parts.join(sep);
}

/** Count of `sep` in `s`, stopping early once `limit` is reached. */
export function countUpTo(s: string, sep: string, limit: number, from = 0, to = s.length): number {
  let n = 0;
  let i = s.indexOf(sep, from);
  while (i !== -1 && i < to && n < limit) {
    n++;
    i = s.indexOf(sep, i + 1);
  }
  return n;
}

/**
 * Whether `text` holds a segment ID at `pos`: an upper-case letter, then two upper-case letters
 * or digits, then the field separator or the end of the segment (`end`).
 */
export function isSegmentIdAt(text: string, pos: number, end: number, fieldSep: string): boolean {
  if (end - pos < 3) return false;
  const a = text.charCodeAt(pos), b = text.charCodeAt(pos + 1), c = text.charCodeAt(pos + 2);
  if (a < 65 || a > 90) return false;
  if (!((b >= 65 && b <= 90) || (b >= 48 && b <= 57))) return false;
  if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false;
  return end === pos + 3 || text[pos + 3] === fieldSep;
}

/** Whether a line holds only spaces and tabs (tolerated between segments as blank lines). */
export function isBlank(text: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c !== 32 && c !== 9) return false;
  }
  return true;
}

/** 1-based line number of `offset`: CR, LF and CRLF each end one line. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset && k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 10) line++;
    else if (c === 13) {
      line++;
      if (text.charCodeAt(k + 1) === 10) k++;
    }
  }
  return line;
}
